"""`/_sandbox/...`: read the journal, tenant and config; change the config; revoke tokens;
read the webhook delivery log and re-run the webhook URL validation.

These routes have no token check, no rate limit and no faults; they are for tests and demos.
"""

from __future__ import annotations

import json
from typing import Any

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
        detail = _errors(exc) if isinstance(exc, ValidationError) else str(exc)
        return JSONResponse({"error": "invalid config", "detail": detail}, status_code=400)
    if "webhook" in changes and config.webhook is not None:
        # Zoom validates an endpoint URL when it is saved; so does the sandbox, in the background.
        sandbox.webhooks.validate_soon()
    return JSONResponse(config.model_dump(mode="json"))


def _errors(exc: ValidationError) -> Any:
    """The errors as JSON, without the input of a webhook field (it may hold the secret)."""
    errors = json.loads(exc.json(include_url=False))
    for error in errors:
        if error.get("loc", [None])[0] == "webhook":
            error.pop("input", None)
    return errors



async def get_state(request: Request) -> Response:
    return JSONResponse(tenant_to_dict(sandbox_of(request).tenant))


async def revoke_tokens(request: Request) -> Response:
    sandbox_of(request).tokens.clear()
    return Response(status_code=204)


async def reset_limits(request: Request) -> Response:
    sandbox_of(request).limiter.reset()
    return Response(status_code=204)


async def get_webhooks(request: Request) -> Response:
    sandbox = sandbox_of(request)
    hooks, target = sandbox.webhooks, sandbox.config.webhook
    return JSONResponse(
        {
            "url": target.url if target is not None else None,
            "pending": hooks.pending(),
            "dropped": hooks.dropped,
            "validation": hooks.validation,
            "deliveries": hooks.entries(),
        }
    )


async def clear_webhooks(request: Request) -> Response:
    sandbox_of(request).webhooks.clear()
    return Response(status_code=204)


async def validate_webhook_url(request: Request) -> Response:
    return JSONResponse(await sandbox_of(request).webhooks.validate_endpoint())


def routes() -> list[Route]:
    return [
        Route("/journal", get_journal, methods=["GET"]),
        Route("/journal", clear_journal, methods=["DELETE"]),
        Route("/config", get_config, methods=["GET"]),
        Route("/config", patch_config, methods=["PATCH"]),
        Route("/state", get_state, methods=["GET"]),
        Route("/tokens", revoke_tokens, methods=["DELETE"]),
        Route("/rate_limits", reset_limits, methods=["DELETE"]),
        Route("/webhooks", get_webhooks, methods=["GET"]),
        Route("/webhooks", clear_webhooks, methods=["DELETE"]),
        Route("/webhooks/validate", validate_webhook_url, methods=["POST"]),
    ]
