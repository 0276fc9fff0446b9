"""`POST /oauth/token`: Server-to-Server OAuth, answered in Zoom's OAuth error shape."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from reconciler.sandbox.guard import respond, sandbox_of
from reconciler.sandbox.oauth import Expected, check_request, request_from, token_body
from reconciler.sandbox.runtime import Sandbox


async def _issue(request: Request, sandbox: Sandbox) -> Response:
    form: dict[str, str] = {}
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    asked = request_from(request.query_params, form, request.headers.get("authorization"))
    config = sandbox.config
    expected = Expected(sandbox.tenant.account.id, config.client_id, config.client_secret)
    refusal = check_request(asked, expected)
    if refusal is not None:
        status, body = refusal
        return JSONResponse(body, status_code=status)
    token = sandbox.tokens.issue(expected.account_id, config.token_lifetime)
    api_url = f"{request.url.scheme}://{request.url.netloc}"
    return JSONResponse(token_body(token, config.token_lifetime, api_url))


async def oauth_token(request: Request) -> Response:
    sandbox = sandbox_of(request)
    config = sandbox.config
    if not config.faults.oauth:
        return await _issue(request, sandbox)
    draw = sandbox.faults.draw(config.faults, config.latency_ms, config.jitter_ms)
    return await respond(request, sandbox, draw, _issue)
