"""Serve a sandbox app with uvicorn on loopback: in a background thread (`running_sandbox`, for
end-to-end tests) or blocking (`serve`, for the CLI).

A dropped connection (`ConnectionDropped` out of the app) closes the client's socket without a
response, so the client sees a protocol error exactly as with a real dropped connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from reconciler.errors import ConfigError
from reconciler.sandbox.faults import ConnectionDropped
from reconciler.zoom.config import is_loopback_host

Peer = tuple[str, int]


class _Connections:
    """Open connections by client address, so the app can close one without answering."""

    def __init__(self) -> None:
        self.open: dict[Peer, tuple[asyncio.Transport, asyncio.Event]] = {}

    def protocol(self) -> type[H11Protocol]:
        registry = self

        class DroppableH11Protocol(H11Protocol):
            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(transport)
                if self.client is not None:
                    registry.open[tuple(self.client)] = (transport, asyncio.Event())  # type: ignore[index]

            def connection_lost(self, exc: Exception | None) -> None:
                super().connection_lost(exc)
                found = registry.open.pop(tuple(self.client), None) if self.client else None  # type: ignore[arg-type]
                if found is not None:
                    found[1].set()

        return DroppableH11Protocol

    async def drop(self, peer: Any) -> None:
        found = self.open.get(tuple(peer)) if peer else None
        if found is None:
            return
        transport, closed = found
        transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closed.wait(), 1.0)


def _dropping(app: ASGIApp, connections: _Connections) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except ConnectionDropped:
            await connections.drop(scope.get("client"))

    return wrapped


def require_loopback(host: str) -> None:
    """Refuse anything but a loopback address: the sandbox has fixed, public test credentials."""
    if not is_loopback_host(host):
        raise ConfigError(
            f"the sandbox only listens on loopback, not {host!r}", hint="use 127.0.0.1"
        )


def _server(app: ASGIApp, sock: socket.socket) -> uvicorn.Server:
    connections = _Connections()
    config = uvicorn.Config(
        _dropping(app, connections),
        http=connections.protocol(),
        lifespan="auto",  # the sandbox's start-up validates its webhook URL
        log_level="error",
        access_log=False,
    )
    return uvicorn.Server(config)


def _bind(host: str, port: int) -> socket.socket:
    require_loopback(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when their proto
    # says TCP, and without it every response waits ~40 ms on the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


@contextlib.contextmanager
def running_sandbox(app: ASGIApp, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` in a background thread; yields the base URL (API at `<url>/v2`)."""
    sock = _bind(host, port)
    server = _server(app, sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the sandbox server did not start")
            threading.Event().wait(0.01)
        yield base_url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve `app` until interrupted (Ctrl-C); `on_ready` gets the base URL once bound."""
    sock = _bind(host, port)
    try:
        # Listening before `on_ready` says where: a client that connects at once waits in the
        # backlog until uvicorn accepts, instead of being refused.
        sock.listen(2048)
        if on_ready is not None:
            on_ready(base_url(sock))
        _server(app, sock).run(sockets=[sock])
    finally:
        sock.close()
