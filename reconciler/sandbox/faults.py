"""Seeded fault injection and latency: one `random.Random(seed)` decides everything.

Each /v2 request draws exactly two numbers, in arrival order: one picks the fault (if any), one the
jitter. The same seed and the same request order therefore give the same faults and delays.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from reconciler.sandbox.config import FaultConfig

FaultKind = Literal["error_500", "error_502", "error_503", "drop", "slow"]
FAULT_KINDS: tuple[FaultKind, ...] = ("error_500", "error_502", "error_503", "drop", "slow")

FAULT_BODIES: dict[str, tuple[int, dict[str, object]]] = {
    "error_500": (500, {"code": 500, "message": "Internal Server Error."}),
    "error_502": (502, {"code": 502, "message": "Bad Gateway."}),
    "error_503": (503, {"code": 503, "message": "Service Unavailable."}),
}


class ConnectionDropped(Exception):
    """Raised out of the ASGI app when the sandbox drops the connection without answering."""


@dataclass(frozen=True)
class Draw:
    fault: FaultKind | None
    delay: float  # seconds of latency before answering (not counting a slow fault)


class FaultPlan:
    def __init__(self, seed: int) -> None:
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)  # noqa: S311 - reproducible test faults, not security

    def draw(self, faults: FaultConfig, latency_ms: float, jitter_ms: float) -> Draw:
        roll, spread = self._rng.random(), self._rng.random()
        delay = max(0.0, latency_ms + (spread * 2 - 1) * jitter_ms) / 1000
        return Draw(pick_fault(faults, roll), delay)


def pick_fault(faults: FaultConfig, roll: float) -> FaultKind | None:
    edge = 0.0
    for kind in FAULT_KINDS:
        edge += getattr(faults, kind)
        if roll < edge:
            return kind
    return None
