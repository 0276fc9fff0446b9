"""Faults and latency: seeded, reproducible, and seen by the client as over a socket."""

from __future__ import annotations

import random
import time

import httpx2
import pytest

from reconciler.sandbox import FaultConfig, SandboxApp
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.faults import FaultPlan

from .conftest import AppFactory, api_client, unlimited

SETTINGS = "/v2/users/alice@acme.test/settings"
KINDS = ("error_500", "error_502", "error_503", "drop", "slow")
BODIES = {
    500: {"code": 500, "message": "Internal Server Error."},
    502: {"code": 502, "message": "Bad Gateway."},
    503: {"code": 503, "message": "Service Unavailable."},
}


async def outcomes(app: SandboxApp, count: int) -> list[str]:
    api = await api_client(app)
    seen = []
    for _ in range(count):
        try:
            answer = await api.get(SETTINGS, timeout=0.05)
        except httpx2.RemoteProtocolError as exc:
            assert str(exc) == "Server disconnected without sending a response."
            seen.append("drop")
        except httpx2.ReadTimeout:
            seen.append("slow")
        else:
            if answer.status_code in BODIES:
                assert answer.json() == BODIES[answer.status_code]
            seen.append(str(answer.status_code))
    await api.aclose()
    return seen


def expected(seed: int, faults: FaultConfig, count: int) -> list[str]:
    """The outcomes an independent reading of the documented draw order predicts."""
    rng, names = random.Random(seed), {"error_500": "500", "error_502": "502", "error_503": "503"}
    result = []
    for _ in range(count):
        roll, _jitter = rng.random(), rng.random()
        edge, outcome = 0.0, "200"
        for kind in KINDS:
            edge += getattr(faults, kind)
            if roll < edge:
                outcome = names.get(kind, kind)
                break
        result.append(outcome)
    return result


def faulty(seed: int, **probabilities: float) -> SandboxConfig:
    return unlimited(seed=seed, faults={**probabilities, "slow_seconds": 0.2})


@pytest.mark.parametrize("kind", KINDS)
async def test_each_fault_kind_repeats_by_seed(make_app: AppFactory, kind: str) -> None:
    first = await outcomes(make_app(faulty(11, **{kind: 0.3})), 30)
    again = await outcomes(make_app(faulty(11, **{kind: 0.3})), 30)
    other = await outcomes(make_app(faulty(12, **{kind: 0.3})), 30)
    assert first == again == expected(11, FaultConfig(**{kind: 0.3}), 30)
    assert other == expected(12, FaultConfig(**{kind: 0.3}), 30)
    assert first != other
    assert 0 < sum(o != "200" for o in first) < 30


async def test_mixed_faults_repeat_and_reseeding_replays(make_app: AppFactory) -> None:
    mix = dict.fromkeys(KINDS, 0.1)
    app = make_app(faulty(5, **mix))
    first = await outcomes(app, 25)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app), base_url="http://s") as c:
        assert (await c.patch("/_sandbox/config", json={"seed": 5})).status_code == 200
    assert await outcomes(app, 25) == first == expected(5, FaultConfig(**mix), 25)
    assert set(first) == {"200", "500", "502", "503", "drop", "slow"}


async def test_dropped_requests_change_nothing_and_are_journaled(make_app: AppFactory) -> None:
    app = make_app(faulty(1, drop=1.0))
    api = await api_client(app)
    with pytest.raises(httpx2.RemoteProtocolError):
        await api.patch(SETTINGS, json={"in_meeting": {"chat": False}})
    await api.aclose()
    user = app.sandbox.tenant.user("alice@acme.test")
    assert user is not None and user.settings.values == {}
    assert app.sandbox.journal.entries()[-1].status is None


async def test_faults_spare_oauth_and_control_routes_unless_asked(make_app: AppFactory) -> None:
    app = make_app(faulty(1, error_503=1.0))
    api = await api_client(app)  # the token request succeeds
    assert (await api.get("/_sandbox/config")).status_code == 200
    assert (await api.get(SETTINGS)).status_code == 503
    await api.patch("/_sandbox/config", json={"faults": {"oauth": True}})
    token = await api.post("/oauth/token")
    await api.aclose()
    assert (token.status_code, token.json()) == (503, BODIES[503])


async def test_latency_and_jitter(make_app: AppFactory) -> None:
    api = await api_client(make_app(unlimited(latency_ms=40)))
    started = time.perf_counter()
    await api.get(SETTINGS)
    await api.aclose()
    assert time.perf_counter() - started >= 0.04
    plan, again = FaultPlan(3), FaultPlan(3)
    faults = FaultConfig()
    delays = [plan.draw(faults, 100, 20).delay for _ in range(50)]
    assert delays == [again.draw(faults, 100, 20).delay for _ in range(50)]
    assert all(0.08 <= d <= 0.12 for d in delays) and len(set(delays)) == 50


def test_fault_probabilities_are_validated() -> None:
    with pytest.raises(ValueError, match="less than or equal to 1"):
        FaultConfig(drop=1.5)
