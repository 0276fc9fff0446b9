"""Zoom's error shapes and the messages the sandbox answers with."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response


class ZoomError(Exception):
    """An error answer in Zoom's shape: `{"code": ..., "message": ...}` (plus `errors` for 300)."""

    def __init__(
        self, status: int, code: int, message: str, errors: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def user_not_found(user_id: str) -> ZoomError:
    return ZoomError(404, 1001, f"User does not exist: {user_id}.")


def group_not_found(group_id: str) -> ZoomError:
    return ZoomError(404, 4130, f"Group does not exist: {group_id}.")


def account_not_found(account_id: str, status: int = 404) -> ZoomError:
    return ZoomError(status, 2001, f"Account does not exist: {account_id}.")


def invalid_token(expired: bool = False) -> ZoomError:
    message = "Access token is expired." if expired else "Invalid access token."
    return ZoomError(401, 124, message)


def invalid_field(field: str, detail: str) -> ZoomError:
    return ZoomError(
        400,
        300,
        f"Validation Failed. Invalid field: {field}.",
        [{"field": field, "message": detail}],
    )


def invalid_parameter(name: str, detail: str = "") -> ZoomError:
    suffix = f" {detail}" if detail else ""
    return ZoomError(400, 300, f"Invalid parameter: {name}.{suffix}")


def bad_json() -> ZoomError:
    return ZoomError(400, 300, "Request Body should be a valid JSON object.")


def not_found_route() -> ZoomError:
    return ZoomError(404, 404, "No API route matches this request.")


def method_not_allowed() -> ZoomError:
    return ZoomError(405, 405, "Method not allowed for this API.")


def no_content(headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=204, headers=headers)
