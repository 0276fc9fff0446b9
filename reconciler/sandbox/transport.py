"""`SandboxTransport`: the sandbox in-process, failing the way a socket would.

It wraps `httpx2.ASGITransport` and adds what the network would add: a dropped connection
becomes `httpx2.RemoteProtocolError` (what httpx2 raises when a server closes the connection
without answering), and the request's read timeout is enforced (`httpx2.ReadTimeout`). As over a
socket, a request whose client gave up keeps running in the sandbox; `aclose()` cancels those.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx2

from reconciler.sandbox.faults import ConnectionDropped


def _read_timeout(request: httpx2.Request) -> float | None:
    timeout: Any = request.extensions.get("timeout") or {}
    value = timeout.get("read") if isinstance(timeout, dict) else None
    return float(value) if value is not None else None


class SandboxTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that serves requests from a sandbox ASGI app without a socket."""

    def __init__(self, app: Any, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self._inner = httpx2.ASGITransport(app=app, client=client)
        self._abandoned: set[asyncio.Task[httpx2.Response]] = set()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        task = asyncio.ensure_future(self._inner.handle_async_request(request))
        try:
            return await asyncio.wait_for(asyncio.shield(task), _read_timeout(request))
        except TimeoutError:
            self._abandon(task)
            raise httpx2.ReadTimeout("timed out", request=request) from None
        except ConnectionDropped:
            raise httpx2.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None

    def _abandon(self, task: asyncio.Task[httpx2.Response]) -> None:
        self._abandoned.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[httpx2.Response]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it

    async def aclose(self) -> None:
        for task in list(self._abandoned):
            task.cancel()
        for task in list(self._abandoned):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._inner.aclose()
