"""Rate limits: per-second buckets per label, the daily cap, simultaneous updates of one user."""

from __future__ import annotations

import asyncio

from reconciler.sandbox import SandboxConfig

from .conftest import AppFactory, FakeClock, api_client, ids

QPS = {
    "code": 429,
    "message": "You have reached the maximum per-second rate limit for this API. Try again later.",
}
SETTINGS = "/v2/users/alice@acme.test/settings"


async def test_bucket_of_60_refuses_the_61st_request_in_a_second(
    make_app: AppFactory, clock: FakeClock
) -> None:
    api = await api_client(make_app(SandboxConfig()))
    answers = [await api.get(SETTINGS) for _ in range(61)]
    assert [a.status_code for a in answers] == [200] * 60 + [429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:3]] == ["59", "58", "57"]
    refused = answers[-1]
    assert refused.json() == QPS
    assert {k: v for k, v in refused.headers.items() if k.startswith("x-ratelimit")} == {
        "x-ratelimit-category": "Medium",
        "x-ratelimit-type": "QPS",
        "x-ratelimit-limit": "60",
        "x-ratelimit-remaining": "0",
    }
    assert "retry-after" not in refused.headers
    clock.advance(0.5)  # refills 30 tokens
    later = [await api.get(SETTINGS) for _ in range(31)]
    await api.aclose()
    assert [a.status_code for a in later] == [200] * 30 + [429]


async def test_labels_have_their_own_buckets_and_control_routes_none(
    make_app: AppFactory,
) -> None:
    api = await api_client(make_app(SandboxConfig()))
    for _ in range(60):
        await api.get("/v2/groups")
    assert (await api.get("/v2/groups")).status_code == 429
    light = await api.get("/v2/users/alice@acme.test")
    control = await api.get("/_sandbox/config")
    await api.aclose()
    assert light.status_code == 200
    assert (light.headers["X-RateLimit-Category"], light.headers["X-RateLimit-Limit"]) == (
        "Light",
        "80",
    )
    assert control.status_code == 200
    assert "X-RateLimit-Limit" not in control.headers


async def test_pro_rate_and_rate_off(make_app: AppFactory) -> None:
    pro = await api_client(make_app(SandboxConfig(rate_limits={"MEDIUM": 20})))
    statuses = [(await pro.get(SETTINGS)).status_code for _ in range(21)]
    await pro.aclose()
    assert statuses == [200] * 20 + [429]
    off = await api_client(make_app(SandboxConfig(rate_limits={"MEDIUM": None})))
    answers = [await off.get(SETTINGS) for _ in range(200)]
    await off.aclose()
    assert {a.status_code for a in answers} == {200}
    assert "X-RateLimit-Limit" not in answers[0].headers


async def test_daily_cap_refuses_until_midnight_utc(make_app: AppFactory, clock: FakeClock) -> None:
    config = SandboxConfig(rate_limits={"MEDIUM": None}, daily_cap=3, token_lifetime=2 * 86400)
    api = await api_client(make_app(config))
    clock.advance(23 * 3600)
    answers = [await api.get(SETTINGS) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    refused = answers[-1]
    assert refused.json() == {
        "code": 429,
        "message": "You have reached the maximum daily rate limit for this API. "
        "Refer to the response header for details on when you can make another request.",
    }
    assert refused.headers["X-RateLimit-Type"] == "Daily-limit"
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["Retry-After"] == "2026-01-02T00:00:00Z"
    clock.advance(3600)
    again = await api.get(SETTINGS)
    await api.aclose()
    assert again.status_code == 200


async def test_daily_cap_with_per_second_limit_sends_qps_headers(
    make_app: AppFactory,
) -> None:
    api = await api_client(make_app(SandboxConfig(daily_cap=1)))
    first, second = await api.get(SETTINGS), await api.get(SETTINGS)
    await api.aclose()
    assert first.headers["X-RateLimit-Type"] == "QPS"
    assert (second.status_code, second.headers["X-RateLimit-Type"]) == (429, "Daily-limit")


async def test_one_update_of_a_user_at_a_time(make_app: AppFactory) -> None:
    app = make_app(SandboxConfig(rate_limits={"MEDIUM": None}, latency_ms=50))
    api = await api_client(app)
    body = {"in_meeting": {"chat": False}}
    same = await asyncio.gather(
        api.patch(SETTINGS, json=body),
        api.patch(f"/v2/users/{ids(app)['alice']}/settings", json=body),
    )
    different = await asyncio.gather(
        api.patch(SETTINGS, json=body),
        api.patch("/v2/users/bob@acme.test/settings", json=body),
    )
    await api.aclose()
    assert sorted(a.status_code for a in same) == [204, 429]
    refused = next(a for a in same if a.status_code == 429)
    assert refused.json() == {
        "code": 429,
        "message": "Too many concurrent requests. Only 1 concurrent update(s) of one user's "
        "settings are allowed at a time; try again later.",
    }
    assert [a.status_code for a in different] == [204, 204]
