"""Zoom's answers: read within a size cap and a deadline, then parsed into the shape asked for.

An answer is read streamed: a body larger than the cap stops the read (`TooLarge`) instead of
filling memory, and the whole exchange (connect, headers, body) runs under one deadline
(`TooSlow`), so a server that trickles a byte at a time cannot hold a request for ever.

Each shape is a pydantic model that allows fields Zoom adds but checks the types of those the
reconciler reads, strictly (no "1" for 1): a body that is not JSON, not an object, or of the
wrong types is `Unfit`, with a one-line detail that never quotes a secret (`Redactor`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import httpx2
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciler.escape import printable, quoted

# What a 2xx body may weigh; Zoom's largest (a page of 300 users) is well under 1 MB.
MAX_BODY = 8_000_000
# A whole exchange, connect to the last byte of the body.
DEADLINE = 60.0
# Of an error answer (3xx, 4xx, 5xx) only the start is read: it is used for its message alone.
ERROR_BODY_LIMIT = 64_000
# How much of the start of a body a message quotes, and how far in secrets are looked for.
QUOTE_CHARS = 40
_SCANNED_BYTES = 32_000
# Zoom's tokens live an hour; a lifetime beyond a day is not Zoom's.
MAX_TOKEN_LIFETIME = 86_400
MAX_TOKEN_LENGTH = 8_192
MAX_PAGE_TOKEN_LENGTH = 1_024
REDACTED = "[redacted]"


class Redactor:
    """Replaces every known secret (credentials, tokens) in text that came from a server."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if secret:  # an empty string would "match" everywhere
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        # Longest first, so a secret that contains another is replaced whole.
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text

    def shown(self, text: str, limit: int = QUOTE_CHARS) -> str:
        """`text` fit for a one-line message: secrets out first, then escaped and cut."""
        return printable(self(text), limit)

    def with_secret(self, secret: str) -> Redactor:
        extended = Redactor(self._secrets)
        extended.add(secret)
        return extended


# -- reading ------------------------------------------------------------------------------------


class TooSlow(Exception):
    """The exchange did not finish within its deadline."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        super().__init__(f"no complete answer within {deadline:g} s")


class TooLarge(Exception):
    """A 2xx body over the cap; it was not read to its end."""

    def __init__(self, response: httpx2.Response, limit: int) -> None:
        self.response = response
        self.limit = limit
        super().__init__(f"larger than {size_text(limit)}")


def size_text(size: int) -> str:
    if size >= 1_000_000:
        return f"{size / 1_000_000:g} MB"
    return f"{size / 1000:g} kB" if size >= 1000 else f"{size} bytes"


async def read_answer(
    http: httpx2.AsyncClient, request: httpx2.Request, *, max_body: int, deadline: float
) -> httpx2.Response:
    """Send `request` and read its answer, capped, within `deadline` seconds all told."""
    timer = asyncio.timeout(deadline)
    try:
        async with timer:
            response = await http.send(request, stream=True)
            try:
                body = await _read_capped(response, max_body)
            finally:
                await response.aclose()
    except TimeoutError:
        if timer.expired():
            raise TooSlow(deadline) from None
        raise
    return _with_body(response, body)


async def _read_capped(response: httpx2.Response, max_body: int) -> bytes:
    answer = response.is_success
    limit = max_body if answer else ERROR_BODY_LIMIT
    declared = _declared_length(response)
    if answer and declared is not None and declared > limit:
        raise TooLarge(response, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        if size + len(chunk) > limit:
            if answer:
                raise TooLarge(response, limit)
            chunks.append(chunk[: limit - size])  # enough of an error page for its message
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _declared_length(response: httpx2.Response) -> int | None:
    value = response.headers.get("Content-Length", "")
    return int(value) if value.isdigit() else None


def _with_body(response: httpx2.Response, body: bytes) -> httpx2.Response:
    """The answer with its (decoded) body in memory, as a plain `httpx2.Response`."""
    framing = {"content-encoding", "content-length", "transfer-encoding"}
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in framing]
    return httpx2.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
    )


# -- shapes -------------------------------------------------------------------------------------


class Shape(BaseModel):
    """An answer's shape: the fields the reconciler reads, typed; any others kept as they are."""

    model_config = ConfigDict(extra="allow", strict=True)
    what: ClassVar[str] = "a JSON object"


class SettingsDocument(Shape):
    """`GET .../settings`: sections of settings; the two fields the shapes code unwraps typed."""

    what: ClassVar[str] = "a settings document"
    meeting_security: dict[str, Any] | None = None
    authentication_options: list[dict[str, Any]] | None = None


class LockDocument(SettingsDocument):
    what: ClassVar[str] = "a lock settings document"


class UserRecord(Shape):
    what: ClassVar[str] = "a user record"
    id: Annotated[str, Field(min_length=1)]
    email: Annotated[str, Field(min_length=1)]
    status: str | None = None
    type: int | None = None
    group_ids: list[str] | None = None
    first_name: str | None = None
    last_name: str | None = None


class PendingUserRecord(UserRecord):
    """Zoom lists pending users without an id."""

    id: Annotated[str, Field(min_length=1)] | None = None  # type: ignore[assignment]


class GroupRecord(Shape):
    what: ClassVar[str] = "a group record"
    id: Annotated[str, Field(min_length=1)]
    name: str
    total_members: int | None = None


class MemberRecord(Shape):
    what: ClassVar[str] = "a group member record"
    id: str | None = None
    email: Annotated[str, Field(min_length=1)]
    type: int | None = None


class Page(Shape):
    what: ClassVar[str] = "a page"
    # Zoom's own are a few dozen characters; each is kept until the listing ends.
    next_page_token: Annotated[str, Field(max_length=MAX_PAGE_TOKEN_LENGTH)] | None = None
    total_records: Annotated[int, Field(ge=0)] | None = None
    page_size: Annotated[int, Field(ge=0)] | None = None


class UserPage(Page):
    what: ClassVar[str] = "a page of users"
    users: list[UserRecord] | None = None


class PendingUserPage(Page):
    what: ClassVar[str] = "a page of users"
    users: list[PendingUserRecord] | None = None


class GroupPage(Page):
    what: ClassVar[str] = "a page of groups"
    groups: list[GroupRecord] | None = None


class MemberPage(Page):
    what: ClassVar[str] = "a page of group members"
    members: list[MemberRecord] | None = None


class TokenAnswer(Shape):
    what: ClassVar[str] = "an access token"
    access_token: str
    token_type: str | None = None
    # Zoom always sends it; without it, assume Zoom's hour.
    expires_in: Annotated[int, Field(gt=0, le=MAX_TOKEN_LIFETIME)] = 3600

    @field_validator("access_token")
    @classmethod
    def _header_safe(cls, value: str) -> str:
        # It goes into an Authorization header: visible ASCII only, of a sane length.
        if not 0 < len(value) <= MAX_TOKEN_LENGTH or not all("!" <= c <= "~" for c in value):
            raise ValueError(
                f"must be 1 to {MAX_TOKEN_LENGTH} characters of visible ASCII, without spaces"
            )
        return value

    @field_validator("token_type")
    @classmethod
    def _bearer(cls, value: str | None) -> str | None:
        if value is not None and value.lower() != "bearer":
            raise ValueError("must be bearer")
        return value


ShapeT = TypeVar("ShapeT", bound=Shape)


# -- parsing ------------------------------------------------------------------------------------


class Unfit(Exception):
    """The body is not the shape asked for; `detail` is fit for a message (nothing secret)."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


_JSON_KINDS: dict[type, str] = {dict: "a JSON object", list: "a JSON array", str: "a JSON string"}


def json_kind(value: Any) -> str:
    if value is None:
        return "JSON null"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | float):
        return "a JSON number"
    return _JSON_KINDS.get(type(value), "JSON")


def json_body(response: httpx2.Response, redact: Redactor) -> Any:
    """The body as JSON; `Unfit` when it is empty or is not JSON."""
    body = response.content
    if not body.strip():
        raise Unfit("the body is empty")
    try:
        return pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError:
        raise Unfit(f"not JSON, it begins {body_start(body, redact)}") from None


def body_start(body: bytes, redact: Redactor) -> str:
    text = body[:_SCANNED_BYTES].decode("utf-8", "replace")
    return quoted(redact(text), QUOTE_CHARS)


def parse(response: httpx2.Response, shape: type[ShapeT], redact: Redactor) -> ShapeT:
    """The answer's body in `shape`; `Unfit` (with a safe detail) when it is not."""
    return validated(json_body(response, redact), shape, redact)


def validated(value: Any, shape: type[ShapeT], redact: Redactor) -> ShapeT:
    if not isinstance(value, dict):
        raise Unfit(f"{json_kind(value)}, not an object")
    try:
        return shape.model_validate(value)
    except ValidationError as error:
        raise Unfit(_first_problem(error, redact)) from None
    except RecursionError:  # nesting deeper than Python's stack, in a field typed Any
        raise Unfit("nested too deeply") from None


def _first_problem(error: ValidationError, redact: Redactor) -> str:
    problems = error.errors(include_url=False, include_input=False, include_context=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "the object"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return redact.shown(f"{where}: {first['msg']}", 160) + more


def plain(record: Shape) -> dict[str, Any]:
    """The record as the JSON object it came as (strict parsing changed no value)."""
    return record.model_dump(exclude_unset=True)


def content_type(response: httpx2.Response, redact: Redactor) -> str:
    declared = response.headers.get("Content-Type", "").split(";")[0].strip()
    return redact.shown(declared, QUOTE_CHARS) if declared else "no content type"


def unfit_message(
    response: httpx2.Response, what: str, detail: str, redact: Redactor, *, status: bool = True
) -> str:
    """`Zoom's answer is not a settings document (HTTP 200, text/html): the body is empty`;
    without `status` when the error's head says it already."""
    kind = content_type(response, redact)
    said = f"HTTP {response.status_code}, {kind}" if status else kind
    return f"Zoom's answer is not {what} ({said}): {detail}"


def check_accepted(response: httpx2.Response, redact: Redactor) -> None:
    """A write's answer: no body, or JSON. Anything else (an HTML page) is not Zoom's yes."""
    if response.content.strip():
        json_body(response, redact)


def redirect_target(response: httpx2.Response, redact: Redactor) -> str:
    """Where a redirect points, without its query or a user name: `'https://host/path'`."""
    location = response.headers.get("Location", "")
    if not location:
        return "nowhere"
    try:
        parts = urlsplit(location)
    except ValueError:
        return "an address that does not parse"
    host = parts.netloc.rpartition("@")[2]
    shown = f"{parts.scheme}://{host}{parts.path}" if host else parts.path
    return quoted(redact(shown), 80)
