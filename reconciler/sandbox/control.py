"""`/_sandbox/...`: read the journal, tenant and config; change the config; revoke tokens.

These routes have no token check, no rate limit and no faults; they are for tests and demos.
"""

from __future__ import annotations

import json

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.sandbox.guard import sandbox_of
from reconciler.sandbox.state import tenant_to_dict


async def get_journal(request: Request) -> Response:
    return JSONResponse({"entries": sandbox_of(request).journal.as_dicts()})


async def clear_journal(request: Request) -> Response:
    sandbox_of(request).journal.clear()
    return Response(status_code=204)


async def get_config(request: Request) -> Response:
    return JSONResponse(sandbox_of(request).config.model_dump(mode="json"))


async def patch_config(request: Request) -> Response:
    sandbox = sandbox_of(request)
    try:
        changes = json.loads(await request.body() or b"{}")
        if not isinstance(changes, dict):
            raise TypeError("the body must be a JSON object")
        config = sandbox.reconfigure(changes)
    except (ValueError, TypeError) as exc:
        detail = (
            json.loads(exc.json(include_url=False))
            if isinstance(exc, ValidationError)
            else str(exc)
        )
        return JSONResponse({"error": "invalid config", "detail": detail}, status_code=400)
    return JSONResponse(config.model_dump(mode="json"))


async def get_state(request: Request) -> Response:
    return JSONResponse(tenant_to_dict(sandbox_of(request).tenant))


async def revoke_tokens(request: Request) -> Response:
    sandbox_of(request).tokens.clear()
    return Response(status_code=204)


async def reset_limits(request: Request) -> Response:
    sandbox_of(request).limiter.reset()
    return Response(status_code=204)


def routes() -> list[Route]:
    return [
        Route("/journal", get_journal, methods=["GET"]),
        Route("/journal", clear_journal, methods=["DELETE"]),
        Route("/config", get_config, methods=["GET"]),
        Route("/config", patch_config, methods=["PATCH"]),
        Route("/state", get_state, methods=["GET"]),
        Route("/tokens", revoke_tokens, methods=["DELETE"]),
        Route("/rate_limits", reset_limits, methods=["DELETE"]),
    ]
