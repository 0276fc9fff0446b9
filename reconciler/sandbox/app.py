"""The sandbox ASGI app: Zoom's API under /v2, OAuth at /oauth/token, control under /_sandbox.

`create_app(config, tenant)` returns a `SandboxApp`; its `sandbox` attribute (also
`app.state.sandbox`) holds the tenant, config, journal and the rest. A request to /v2 or /oauth
that the sandbox decides to drop ends with `ConnectionDropped` raised out of the app: the
in-process transport turns it into `httpx2.RemoteProtocolError`, and the uvicorn server closes
the socket without an answer.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path as FilePath
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Message, Receive, Scope, Send

from reconciler.sandbox import api, control
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.faults import ConnectionDropped
from reconciler.sandbox.journal import parse_body
from reconciler.sandbox.responses import method_not_allowed, not_found_route
from reconciler.sandbox.runtime import Clock, Sandbox
from reconciler.sandbox.tenant import Tenant
from reconciler.sandbox.token_route import oauth_token

_JOURNALED = ("/v2/", "/oauth/")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if not request.url.path.startswith(_JOURNALED):
        return JSONResponse({"error": getattr(exc, "detail", "error")}, status_code=status)
    error = method_not_allowed() if status == 405 else not_found_route()
    return error.response()


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class SandboxApp(Starlette):
    """Starlette plus the journal and the dropped-connection signal around every request."""

    sandbox: Sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(_JOURNALED):
            await super().__call__(scope, receive, send)
            return
        asked = {"time": self.sandbox.now_iso(), "method": str(scope["method"])}
        asked["path"] = str(scope["path"])
        query = dict(Request(scope).query_params)
        body = await _read_all(receive)
        status = await self._run(scope, body, receive, send)
        self.sandbox.journal.append(**asked, query=query, body=parse_body(body), status=status)
        if status is None:
            raise ConnectionDropped(f"{scope['method']} {scope['path']}")

    async def _run(self, scope: Scope, body: bytes, receive: Receive, send: Send) -> int | None:
        replayed = False
        status: int | None = None

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await super().__call__(scope, replay, capture)
        return status


def create_app(
    config: SandboxConfig | None = None,
    tenant: Tenant | None = None,
    *,
    clock: Clock = time.time,
    state_path: FilePath | None = None,
) -> SandboxApp:
    """The sandbox app over `tenant` (default: the Acme example tenant)."""
    if tenant is None:
        from reconciler.sandbox.acme import acme_tenant  # noqa: PLC0415 - needs the schemas

        tenant = acme_tenant()
    sandbox = Sandbox(config or SandboxConfig(), tenant, clock=clock, state_path=state_path)
    handlers: dict[Any, Any] = {HTTPException: _http_error}

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        # A served sandbox registers its webhook URL as Zoom does: with a validation challenge.
        if sandbox.webhooks.enabled:
            sandbox.webhooks.validate_soon()
        yield
        await sandbox.webhooks.aclose()

    app = SandboxApp(
        lifespan=lifespan,
        routes=[
            Mount("/v2", routes=api.routes()),
            Route("/oauth/token", oauth_token, methods=["POST"]),
            Mount("/_sandbox", routes=control.routes()),
        ],
        exception_handlers=handlers,
    )
    app.sandbox = sandbox
    app.state.sandbox = sandbox
    return app
