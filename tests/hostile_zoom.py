"""A hostile Zoom: an ASGI app that answers in one bad way on demand, for the client's tests.

`HostileZoom(mode=..., token_mode=...)` answers every API request as `mode` says and every token
request as `token_mode` says ("ok" for a well-behaved answer). Use it in-process through
`httpx2.ASGITransport(app=...)`, or over real sockets with
`reconciler.sandbox.server.running_sandbox(app)`: the streamed modes ("huge", "trickle") need
the socket, since `ASGITransport` gathers a whole body before it hands over the answer.

It records what it was asked (`requests`) and how far a stream got (`chunks_sent`,
`disconnected`), so a test can tell that the client stopped reading early.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

TOKEN = "hostile-token-VALUE-1"
CHUNK = b"x" * 65_536
HTML = b"<html><head><title>Sign in</title></head><body>Please sign in</body></html>"
REDIRECT_TO = "https://login.example/sso?session=abc123&next=%2Fv2"

# Every answer a mode gives for the API, by name; see `HostileZoom._api`.
API_MODES = (
    "ok",
    "html",
    "empty",
    "null",
    "list",
    "garbage",
    "wrong_types",
    "huge",
    "redirect",
    "trickle",
    "retry_after",
    "repeat_token",
    "endless_pages",
    "other_user",
    "echo_secrets",
)
TOKEN_MODES = (
    "ok",
    "html",
    "empty",
    "missing",
    "list",
    "bad_expiry",
    "non_ascii",
    "echo",
    "echo_page",
    "long_reason",
    "redirect",
    "huge",
)


@dataclass
class Asked:
    method: str
    path: str
    query: dict[str, str]
    authorization: str


@dataclass
class HostileZoom:
    mode: str = "ok"
    token_mode: str = "ok"
    retry_after: str = "86400"  # for "retry_after"
    expires_in: Any = 3600  # for "bad_expiry"
    access_token: str = TOKEN  # what "ok" and "non_ascii" hand out
    huge_bytes: int = 300_000_000  # for "huge"
    declare_length: bool = False  # "huge" with a Content-Length up front
    trickle_every: float = 5.0  # "trickle": one byte this often
    pages_total: int = 700  # "endless_pages": the total_records of the first page
    total_growth: int = 0  # "endless_pages": what each later page adds to it
    requests: list[Asked] = field(default_factory=list)
    chunks_sent: int = 0
    disconnected: bool = False

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await _drain(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        asked = Asked(
            scope["method"],
            scope["path"],
            dict(parse_qsl(scope["query_string"].decode())),
            headers.get("authorization", ""),
        )
        self.requests.append(asked)
        if asked.path.endswith("/oauth/token"):
            await self._token(asked, receive, send)
        else:
            await self._api(asked, receive, send)

    @property
    def api_requests(self) -> list[Asked]:
        return [r for r in self.requests if not r.path.endswith("/oauth/token")]

    # -- the API ------------------------------------------------------------------------------

    async def _api(self, asked: Asked, receive: Receive, send: Send) -> None:
        mode = self.mode
        if mode in _FIXED:
            status, content_type, body = _FIXED[mode]
            await _respond(send, status, body, content_type)
        elif mode == "wrong_types":
            await _json(send, 200, _wrong_types(asked.path))
        elif mode == "huge":
            await self._huge(receive, send)
        elif mode == "redirect":
            await _respond(send, 302, b"", "text/html", [("location", REDIRECT_TO)])
        elif mode == "trickle":
            await self._stream(receive, send, b" ", 10**9, self.trickle_every)
        elif mode == "retry_after":
            body = {"code": 429, "message": "Too many requests"}
            await _json(send, 429, body, [("retry-after", self.retry_after)])
        elif mode == "echo_secrets":
            await _json(send, 400, {"code": 300, "message": f"bad header {asked.authorization}"})
        else:
            await _json(send, 200, self._page_or_record(asked))

    def _page_or_record(self, asked: Asked) -> Any:
        path, token = asked.path, asked.query.get("next_page_token", "")
        if self.mode == "repeat_token":
            return _page(path, 1, "the-same-token", total=1000)
        if self.mode == "endless_pages":
            number = int(token.rpartition("-")[2] or 0) + 1
            total = self.pages_total + self.total_growth * (number - 1)
            return _page(path, 300, f"page-{number}", total=total)
        if self.mode == "other_user" and _is_user(path):
            return _user("u-bob", "bob@acme.test")
        return _ok(asked)

    async def _huge(self, receive: Receive, send: Send) -> None:
        count = self.huge_bytes // len(CHUNK)
        length = [("content-length", str(count * len(CHUNK)))] if self.declare_length else []
        await self._stream(receive, send, CHUNK, count, 0.0, length)

    async def _stream(
        self,
        receive: Receive,
        send: Send,
        chunk: bytes,
        count: int,
        every: float,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """Send `chunk` `count` times, `every` seconds apart, until the client goes away."""
        await _start(send, 200, "application/json", headers or [])
        gone = asyncio.Event()
        watcher = asyncio.ensure_future(_watch(receive, gone))
        try:
            for _ in range(count):
                if gone.is_set():
                    self.disconnected = True
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self.chunks_sent += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(gone.wait(), every)
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()

    # -- the token endpoint ---------------------------------------------------------------------

    async def _token(self, asked: Asked, receive: Receive, send: Send) -> None:
        mode = self.token_mode
        if mode in _FIXED:
            status, content_type, body = _FIXED[mode]
            await _respond(send, status, body, content_type)
        elif mode == "missing":
            await _json(send, 200, {"token_type": "bearer", "expires_in": 3600})
        elif mode in ("ok", "non_ascii", "bad_expiry"):
            expires = self.expires_in if mode == "bad_expiry" else 3600
            token = "tökén-ünicode" if mode == "non_ascii" else self.access_token
            body = {"access_token": token, "token_type": "bearer", "expires_in": expires}
            await _json(send, 200, body)
        elif mode in ("echo", "echo_page"):
            await self._echo(asked, send)
        elif mode == "long_reason":
            reason = "line one\nline two\x1b[31m " + "blah " * 200
            await _json(send, 400, {"reason": reason, "error": "invalid_client"})
        elif mode == "redirect":
            await _respond(send, 302, b"", "text/html", [("location", REDIRECT_TO)])
        elif mode == "huge":
            await self._huge(receive, send)

    async def _echo(self, asked: Asked, send: Send) -> None:
        """Every credential the request carried, back in the answer."""
        basic = asked.authorization.removeprefix("Basic ")
        client_id, _, secret = base64.b64decode(basic).decode().partition(":")
        echoed = f"client {client_id} secret {secret} basic {basic} header {asked.authorization}"
        if self.token_mode == "echo":
            await _json(send, 400, {"reason": echoed, "error": "invalid_client"})
        else:
            await _respond(send, 200, f"<html>{echoed}</html>".encode(), "text/html")


# Answers that do not depend on the request: status, content type, body.
_FIXED: dict[str, tuple[int, str, bytes]] = {
    "html": (200, "text/html; charset=utf-8", HTML),
    "empty": (200, "application/json", b""),
    "null": (200, "application/json", b"null"),
    "list": (200, "application/json", b'[{"in_meeting": {}}]'),
    "garbage": (200, "application/json", b'\xff\xfe{"in_meeting": tru\x00e'),
}


def _is_user(path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) == 3 and parts[1] == "users"  # /v2/users/{id}


def _user(user_id: str, email: str) -> dict[str, Any]:
    return {"id": user_id, "email": email, "status": "active", "type": 1, "group_ids": []}


def _page(path: str, size: int, token: str, *, total: int) -> dict[str, Any]:
    key = "members" if path.endswith("/members") else path.rstrip("/").rpartition("/")[2]
    items = [_user(f"u{i}", f"u{i}@acme.test") for i in range(size)]
    if key == "groups":
        items = [{"id": f"g{i}", "name": f"Group {i}", "total_members": 0} for i in range(size)]
    return {
        key: items,
        "next_page_token": token,
        "total_records": total,
        "page_size": size,
    }


def _ok(asked: Asked) -> Any:
    path = asked.path
    if asked.method != "GET":
        return None  # answered 204 by `_json`
    if _is_user(path):
        wanted = path.rpartition("/")[2]
        return _user("u-alice", wanted) if "@" in wanted else _user(wanted, "alice@acme.test")
    if path.endswith(("/users", "/groups", "/members")):
        return _page(path, 2, "", total=2)
    return {"in_meeting": {"waiting_room": True}}


def _wrong_types(path: str) -> Any:
    if _is_user(path):
        return {"id": 42, "email": None}
    if path.endswith(("/users", "/members")):
        return {"users": "everyone", "members": [{"email": 7}], "total_records": "2"}
    if path.endswith("/groups"):
        return {"groups": [{"id": "g1"}], "next_page_token": 5}
    return {"meeting_security": "on", "authentication_options": {"a": 1}}


async def _drain(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


async def _watch(receive: Receive, gone: asyncio.Event) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()


async def _start(send: Send, status: int, content_type: str, extra: list[tuple[str, str]]) -> None:
    headers = [(b"content-type", content_type.encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[str, str]] | None = None,
) -> None:
    length = [("content-length", str(len(body)))]
    await _start(send, status, content_type, [*length, *(extra or [])])
    await send({"type": "http.response.body", "body": body})


async def _json(
    send: Send, status: int, body: Any, extra: list[tuple[str, str]] | None = None
) -> None:
    if body is None:
        await _respond(send, 204, b"", "application/json", extra)
        return
    await _respond(send, status, json.dumps(body).encode(), "application/json", extra)
