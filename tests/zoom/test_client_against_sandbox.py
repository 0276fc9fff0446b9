"""The client against the project's sandbox: faults, token expiry, daily limits, paging, pacing."""

from __future__ import annotations

import time
from collections import Counter

import httpx2
import pytest

from reconciler.errors import DailyLimitReached
from reconciler.sandbox import SandboxConfig, SandboxTransport, create_app, generate_tenant
from reconciler.sandbox.config import PRO_RATES, FaultConfig
from reconciler.sandbox.server import running_sandbox
from reconciler.zoom import (
    Credentials,
    Endpoints,
    RetryPolicy,
    Secret,
    ZoomClient,
    get_settings,
    iter_users,
    map_concurrently,
)
from tests.zoom.conftest import get_json

SANDBOX_CREDENTIALS = Credentials("sandbox-account", "sandbox-client", Secret("sandbox-secret"))
QUICK_RETRIES = RetryPolicy(
    attempts=8, total_seconds=60, wait_initial=0.02, wait_max=0.2, wait_jitter=0.02
)
NO_LIMITS: dict[str, float | None] = {"LIGHT": None, "MEDIUM": None, "HEAVY": None}


def served_client(base: str, **options: object) -> ZoomClient:
    endpoints = Endpoints(f"{base}/v2", f"{base}/oauth/token")
    return ZoomClient(SANDBOX_CREDENTIALS, endpoints, **options)  # type: ignore[arg-type]


def in_process_client(app: object, **options: object) -> ZoomClient:
    endpoints = Endpoints("http://127.0.0.1/v2", "http://127.0.0.1/oauth/token")
    return ZoomClient(SANDBOX_CREDENTIALS, endpoints, transport=SandboxTransport(app), **options)  # type: ignore[arg-type]


async def read_all(zoom: ZoomClient, ids: list[str]) -> dict[str, dict[str, object]]:
    settings: dict[str, dict[str, object]] = {}
    failures = []

    async def read(user_id: str) -> dict[str, object]:
        return await get_settings(zoom, "user", user_id, "general")

    async for outcome in map_concurrently(read, ids, workers=16):
        if outcome.error is not None:
            failures.append(outcome)
        else:
            assert outcome.item not in settings, f"{outcome.item} read twice"
            settings[outcome.item] = outcome.result  # type: ignore[assignment]
    assert failures == []
    return settings


async def test_faults_and_expiring_tokens_lose_no_user_and_report_no_false_failure() -> None:
    started = time.time()
    # The sandbox's clock runs ten times fast, so its 20 s tokens expire every 2 s of the test.
    config = SandboxConfig(
        token_lifetime=20,
        rate_limits=NO_LIMITS,
        faults=FaultConfig(error_500=0.02, error_502=0.015, error_503=0.015, drop=0.02),
        seed=7,
    )
    app = create_app(
        config,
        generate_tenant(users=2000, groups=8, seed=3),
        clock=lambda: started + (time.time() - started) * 10,
    )
    with running_sandbox(app) as base:
        async with served_client(base, retry=QUICK_RETRIES, max_in_flight=16) as zoom:
            ids = [user["id"] async for user in iter_users(zoom, status="active")]
            faulty = await read_all(zoom, ids)
            counters = zoom.counters
            app.sandbox.reconfigure({"faults": FaultConfig().model_dump()})
            clean = await read_all(zoom, ids)
    statuses = Counter(entry.status for entry in app.sandbox.journal.entries())
    assert len(ids) == len(set(ids)) > 1500
    assert faulty == clean  # every user's settings, exactly once, as a fault-free read sees them
    assert counters.failures == 0
    assert counters.retries >= statuses[500] + statuses[502] + statuses[503] + statuses[None] > 0
    assert min(statuses[500], statuses[502], statuses[503], statuses[None], statuses[401]) > 0
    entries = app.sandbox.journal.entries()
    assert sum(entry.path == "/oauth/token" for entry in entries) >= 2  # a token renewed


async def test_daily_limit_ends_the_run_promptly_and_says_when_it_resets() -> None:
    app = create_app(
        SandboxConfig(rate_limits=NO_LIMITS, daily_cap=5),
        generate_tenant(users=50, groups=2, seed=1),
    )
    async with in_process_client(app, retry=QUICK_RETRIES) as zoom:
        ids = [user["id"] async for user in iter_users(zoom, status="active")]
        started = time.monotonic()
        outcomes = [
            o
            async for o in map_concurrently(
                lambda user_id: get_settings(zoom, "user", user_id, "general"), ids, workers=4
            )
        ]
        elapsed = time.monotonic() - started
    errors = [o.error for o in outcomes if o.error is not None]
    assert len(outcomes) == len(ids)  # every user is accounted for
    assert all(isinstance(error, DailyLimitReached) for error in errors)
    first = errors[0]
    assert isinstance(first, DailyLimitReached)
    assert first.resets_at is not None and first.resets_at.endswith(("Z", "+00:00"))
    assert f"it resets at {first.resets_at}" in str(first)
    assert elapsed < 2.0
    journal = app.sandbox.journal.entries()
    first_429 = next(i for i, e in enumerate(journal) if e.status == 429)
    # Only the requests already in flight (4 workers) meet the limit; none is retried or sent later.
    assert [e.status for e in journal[first_429:]] == [429] * len(journal[first_429:])
    assert 1 <= len(journal[first_429:]) <= 4


async def test_paging_through_5000_users_returns_each_once() -> None:
    app = create_app(SandboxConfig(rate_limits=NO_LIMITS), generate_tenant(users=5000, seed=2))
    async with in_process_client(app) as zoom:
        emails = [user["email"] async for user in iter_users(zoom, status="active")]
        requests = zoom.counters.requests
    active = [u for u in app.sandbox.tenant.users if u.status == "active"]
    assert sorted(emails) == sorted(u.email for u in active)
    assert requests == 1 + -(-len(active) // 300)  # the token, then one request per page of 300


@pytest.mark.parametrize("told_rate", [60.0, None])
async def test_client_follows_the_accounts_real_limit(told_rate: float | None) -> None:
    # Told "business" (60/s) or nothing, against a Pro account (20/s): X-RateLimit-Limit wins.
    app = create_app(
        SandboxConfig(rate_limits=PRO_RATES),
        generate_tenant(users=60, groups=2, seed=5),
    )
    async with in_process_client(app, rate=told_rate, retry=QUICK_RETRIES) as zoom:
        ids = [user["id"] async for user in iter_users(zoom, status="active")]
        settings = await read_all(zoom, ids)
        assert zoom.rate == 20.0
        throttled = zoom.counters.throttled
    assert len(settings) == len(ids)
    assert throttled <= 25  # the first burst may overrun before the header is seen; then none


async def test_secrets_stay_out_of_the_sandbox_journal() -> None:
    app = create_app(SandboxConfig(rate_limits=NO_LIMITS), generate_tenant(users=5, seed=1))
    async with in_process_client(app) as zoom:
        await get_json(zoom, "/users")
    with running_sandbox(app) as base:
        journal = httpx2.get(f"{base}/_sandbox/journal").text
    assert "sandbox-secret" not in journal and "Bearer" not in journal
