"""Fault soak: apply to 100 users through 5xx answers, dropped connections, 429 bursts and expiring
tokens, over a real socket (uvicorn on 127.0.0.1), then plan again: nothing is pending, and the
sandbox's journal shows that every PATCH carried exactly the managed fields that changed.

- 5xx: 5 % of API requests (500, 502, 503); dropped connections: 3 % (the socket is closed
  without an answer).
- 429 bursts: a second app on the same account spends the whole MEDIUM budget (60 requests) in
  one burst every 2 s, as a neighbour sharing the account's rate limit would.
- Token expiry: tokens live 20 s; the sandbox's clock (injected) jumps 21 s ahead every 4 s, so
  every token in use expires mid-run and Zoom answers 401 (code 124) until the client renews it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from pathlib import Path

import httpx2
import pytest

from reconciler.connect import Connector
from reconciler.sandbox import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    FaultConfig,
    SandboxConfig,
    create_app,
    generate_tenant,
    running_sandbox,
)
from tests.apply.conftest import zoom_env
from tests.apply.repos import flip_repo
from tests.plan.sandbox_repo import apply_plan, plan_repo

FAULTS = FaultConfig(error_500=0.02, error_502=0.015, error_503=0.015, drop=0.03)
BURST = 60  # the whole per-second MEDIUM budget of a Business account
BURST_EVERY = 2.0
JUMP_EVERY_BURSTS = 2


class JumpingClock:
    """Wall time plus an offset that only grows."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def jump(self, seconds: float) -> None:
        self.offset += seconds


async def neighbour(url: str, clock: JumpingClock, stop: asyncio.Event) -> int:
    """Another app on the account: bursts of requests that spend the rate limit; returns bursts."""
    bursts = 0
    async with httpx2.AsyncClient(base_url=url, timeout=10) as http:
        while not stop.is_set():
            token = await http.post(
                "/oauth/token",
                params={"grant_type": "account_credentials", "account_id": DEFAULT_ACCOUNT_ID},
                auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            calls = [http.get("/v2/groups", headers=headers) for _ in range(BURST)]
            await asyncio.gather(*calls, return_exceptions=True)
            bursts += 1
            if bursts % JUMP_EVERY_BURSTS == 0:
                clock.jump(21)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), BURST_EVERY)
    return bursts


async def test_apply_through_faults_converges_and_sends_only_changed_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = generate_tenant(users=130, groups=4, seed=2)
    repo = tmp_path / "repo"
    bodies = flip_repo(repo, tenant, 100)
    clock = JumpingClock()
    config = SandboxConfig(token_lifetime=20, latency_ms=10, jitter_ms=10, faults=FAULTS, seed=3)
    app = create_app(config, tenant, clock=clock)
    audit_log = tmp_path / "audit.log"
    with running_sandbox(app) as url:
        for name, value in zoom_env(url).items():
            monkeypatch.setenv(name, value)
        stop = asyncio.Event()
        noise = asyncio.create_task(neighbour(url, clock, stop))
        try:
            plan = await plan_repo(repo, connector=Connector().from_env())
            report = await apply_plan(plan, repo, audit_log, connector=Connector().from_env())
        finally:
            stop.set()
            bursts = await noise
        after = await plan_repo(repo, connector=Connector().from_env())
    journal = app.sandbox.journal.entries()

    # It converged: every target applied and verified, and a fresh plan has nothing to do.
    assert len(report.targets("applied")) == 100
    assert not report.failed and not report.stale
    assert (after.pending, after.blocked, after.unknown) == ([], [], [])

    # Every PATCH (retries included) carried exactly the planned, changed fields of a user in
    # the repo, and every one of those users' families was written.
    written: Counter[tuple[str, str]] = Counter()
    for entry in (e for e in journal if e.method == "PATCH"):
        user_id = entry.path.removeprefix("/v2/users/").removesuffix("/settings")
        assert entry.path == f"/v2/users/{user_id}/settings" and user_id in bodies
        option = entry.query.get("option", "")
        assert entry.body == bodies[user_id][option]
        written[(user_id, option)] += entry.status == 204
    expected = {(user_id, option) for user_id, found in bodies.items() for option in found}
    assert set(written) == expected
    assert all(count >= 1 for count in written.values())

    # The faults happened: 5xx, dropped connections, 429s and expired tokens.
    statuses = Counter(e.status for e in journal if e.path.startswith("/v2/"))
    assert statuses[500] + statuses[502] + statuses[503] > 0
    assert statuses[None] > 0  # dropped
    assert sum(e.status == 429 for e in journal if e.path.startswith("/v2/users/")) > 0  # ours
    assert statuses[401] > 0
    assert bursts >= 2 and clock.offset >= 21

    # The audit log: whole lines, a `sending` line and an `applied` line per request.
    lines = [json.loads(line) for line in audit_log.read_text().splitlines()]
    results = Counter(line["result"] for line in lines)
    assert results == {"sending": len(expected), "applied": len(expected)}
