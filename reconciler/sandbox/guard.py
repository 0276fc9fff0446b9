"""The path every /v2 request takes before its handler: token, rate limits, faults, latency.

Order: access token (401 code 124) -> daily cap and per-second bucket (429) -> simultaneous
updates of one user (429) -> one seeded draw picks fault and delay -> sleep -> fault or handler.
Rate-limit headers go on every answer that passed the token check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from reconciler.sandbox.faults import FAULT_BODIES, Draw
from reconciler.sandbox.ratelimit import CONCURRENT_MESSAGE
from reconciler.sandbox.responses import ZoomError, invalid_token
from reconciler.sandbox.runtime import Sandbox

Handler = Callable[[Request, Sandbox], Awaitable[Response]]
KeyOf = Callable[[Request, Sandbox], str | None]


class Dropped(Response):
    """A response that never sends anything: the connection is dropped without an answer."""

    def __init__(self) -> None:
        super().__init__(status_code=599)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def bearer_account(request: Request, sandbox: Sandbox) -> str:
    """The account of a valid bearer token; raises the 401 Zoom answers otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid_token()
    state, account = sandbox.tokens.state(token.strip())
    if state != "valid" or account is None:
        raise invalid_token(expired=state == "expired")
    return account


class _Slot(AbstractContextManager[None]):
    def __init__(self, sandbox: Sandbox, key: str) -> None:
        self.sandbox, self.key = sandbox, key

    def __exit__(self, *exc: object) -> None:
        self.sandbox.inflight.release(self.key)


def _slot(sandbox: Sandbox, key: str | None) -> AbstractContextManager[None] | None:
    """Hold one of the user's update slots, or None when the user is at the limit."""
    if key is None:
        return nullcontext()
    limit = sandbox.config.max_concurrent_user_patches
    return _Slot(sandbox, key) if sandbox.inflight.acquire(key, limit) else None


async def respond(request: Request, sandbox: Sandbox, draw: Draw, handler: Handler) -> Response:
    if draw.delay > 0:
        await asyncio.sleep(draw.delay)
    if draw.fault == "drop":
        return Dropped()
    if draw.fault in FAULT_BODIES:
        status, body = FAULT_BODIES[draw.fault]
        return JSONResponse(body, status_code=status)
    if draw.fault == "slow":
        await asyncio.sleep(sandbox.config.faults.slow_seconds)
    try:
        return await handler(request, sandbox)
    except ZoomError as exc:
        return exc.response()


async def guarded(request: Request, label: str, handler: Handler, key_of: KeyOf | None) -> Response:
    sandbox = sandbox_of(request)
    try:
        account = bearer_account(request, sandbox)
    except ZoomError as exc:
        return exc.response()
    config = sandbox.config
    verdict = sandbox.limiter.check(account, label, config.rate_limits.get(label), config.daily_cap)
    if verdict.refused is not None:
        return JSONResponse(verdict.refused, status_code=429, headers=verdict.headers)
    slot = _slot(sandbox, key_of(request, sandbox) if key_of else None)
    if slot is None:
        message = CONCURRENT_MESSAGE.format(limit=config.max_concurrent_user_patches)
        return JSONResponse({"code": 429, "message": message}, 429, headers=verdict.headers)
    draw = sandbox.faults.draw(config.faults, config.latency_ms, config.jitter_ms)
    with slot:
        response = await respond(request, sandbox, draw, handler)
    response.headers.update(verdict.headers)
    return response


def endpoint(
    label: str, handler: Handler, key_of: KeyOf | None = None
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        return await guarded(request, label, handler, key_of)

    run.__name__ = handler.__name__
    return run
