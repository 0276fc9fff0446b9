"""`Sandbox`: everything one running sandbox holds. Reach it as `app.state.sandbox`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.effective import Resolver
from reconciler.sandbox.faults import FaultPlan
from reconciler.sandbox.journal import Journal
from reconciler.sandbox.oauth import TokenStore
from reconciler.sandbox.ratelimit import InFlight, RateLimiter
from reconciler.sandbox.state import save_state
from reconciler.sandbox.tenant import Tenant
from reconciler.sandbox.webhooks import Webhooks

Clock = Callable[[], float]


class Sandbox:
    """Tenant, config and the moving parts: tokens, rate limits, faults, journal, state file,
    outgoing webhooks.

    `clock` returns seconds since the epoch; inject a fake one to step time in tests.
    """

    def __init__(
        self,
        config: SandboxConfig,
        tenant: Tenant,
        *,
        clock: Clock = time.time,
        state_path: Path | None = None,
    ) -> None:
        self.config = config
        self.tenant = tenant
        self.clock = clock
        self.state_path = state_path
        self.resolver = Resolver(tenant)
        self.tokens = TokenStore(clock)
        self.limiter = RateLimiter(clock)
        self.inflight = InFlight()
        self.faults = FaultPlan(config.seed)
        self.journal = Journal()
        self.webhooks = Webhooks(lambda: self.config.webhook, clock)

    def now_iso(self) -> str:
        stamp = datetime.fromtimestamp(self.clock(), UTC)
        return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def reconfigure(self, changes: dict[str, Any]) -> SandboxConfig:
        """Apply config changes (validated; raises pydantic.ValidationError). A `seed` reseeds."""
        self.config = self.config.with_changes(changes)
        if "seed" in changes:
            self.faults.reseed(self.config.seed)
        self.saved()
        return self.config

    def changed(self) -> None:
        """Call after any change to the tenant: drops cached answers and persists the state."""
        self.resolver.invalidate()
        self.saved()

    def saved(self) -> None:
        if self.state_path is not None:
            save_state(self.state_path, self.tenant, self.config)
