"""One session per account: one ZoomClient (one token, one pacer) and the live reader over it.

A `Connector` holds how to reach one account as values: the credentials and endpoints of a real
account (`ZoomAccess`), or `--sandbox`, which runs the sandbox in-process (no socket), seeded with
the example tenant that matches `examples/acme/`, its state kept in `.reconciler/sandbox.json`
beside the settings repo so that plan, apply, plan converges across commands. Nothing below the
CLI knows which it is. `Connector.open` never reads the environment: the CLI asks
`Connector.from_env` for the `ZOOM_*` account just before it opens the command's session, so a
process may hold sessions on several accounts at once, one connector each.

`Connector.sandbox_app` is the seam tests use to stand a hostile or recording app in front of
the in-process sandbox.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import CredentialsMissing
from reconciler.live import LiveReader
from reconciler.private import private_folder
from reconciler.vocab import Tier
from reconciler.zoom import ZoomClient
from reconciler.zoom.budget import ReadBudget
from reconciler.zoom.client import default_in_flight
from reconciler.zoom.config import (
    Credentials,
    Endpoints,
    Pace,
    Secret,
    credentials_from_env,
    endpoints_from_env,
    rate_for,
)
from reconciler.zoom.pacer import Probe
from reconciler.zoom.rate_memory import RATE_FILE, remember, resumed

SANDBOX_STATE = Path(".reconciler") / "sandbox.json"
SANDBOX_BASE = "http://127.0.0.1"


def sandbox_state_path(repo_root: Path) -> Path:
    return repo_root / SANDBOX_STATE


@dataclass(frozen=True)
class Session:
    """What one run talks to one Zoom account through (a process may hold several)."""

    zoom: ZoomClient
    reader: LiveReader
    workers: int  # requests in flight: enough to keep the rate with a second of latency
    account_id: str  # the Zoom account the credentials are for


@dataclass(frozen=True)
class ZoomAccess:
    """What reaching one real Zoom account takes: its app's credentials and the API's URLs."""

    credentials: Credentials
    endpoints: Endpoints


def access_from_env(env: Mapping[str, str] | None = None) -> ZoomAccess:
    """The account the `ZOOM_*` variables name (CredentialsMissing, saying which, if unset)."""
    return ZoomAccess(credentials_from_env(env), endpoints_from_env(env))


def _same(app: Any) -> Any:
    return app


@dataclass(frozen=True)
class Connector:
    """How a command reaches Zoom: a real account (`zoom`), or the built-in sandbox."""

    sandbox: bool = False
    # Wraps the in-process sandbox app (the ASGI app `create_app` made) before it is served.
    sandbox_app: Callable[[Any], Any] = _same
    zoom: ZoomAccess | None = None  # the real account, when not `sandbox`

    def from_env(self, env: Mapping[str, str] | None = None) -> Connector:
        """This connector with the environment's account, unless it has one or is the sandbox
        (what the CLI does just before it opens the command's session)."""
        if self.sandbox or self.zoom is not None:
            return self
        return dataclasses.replace(self, zoom=access_from_env(env))

    @asynccontextmanager
    async def open(
        self,
        repo_root: Path,
        *,
        tier: Tier | None,
        rate: float | None = None,
        paced: bool = True,
        reads: ReadBudget | None = None,
    ) -> AsyncIterator[Session]:
        """`paced=False` leaves pacing to Zoom's headers alone (for a limit that is off); no tier
        and no rate: the client probes for the account's rate. `reads` bounds the run's reads."""
        pace = rate_for(tier, rate) if paced else None
        if self.sandbox:
            credentials, client = self._sandbox_client(repo_root, pace, reads)
        else:
            if self.zoom is None:
                raise CredentialsMissing(
                    "no Zoom account to connect to",
                    hint="give the Connector the account's credentials (Connector.from_env reads "
                    "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET), or use the sandbox",
                )
            credentials = self.zoom.credentials
            resumed = _resumed(pace, repo_root, credentials.account_id)
            client = ZoomClient(credentials, self.zoom.endpoints, rate=resumed, read_budget=reads)
        async with client as zoom:
            try:
                yield Session(
                    zoom, LiveReader(zoom), default_in_flight(pace), credentials.account_id
                )
            finally:
                if zoom.proven_rate is not None:
                    remember(repo_root / RATE_FILE, credentials.account_id, zoom.proven_rate)

    def _sandbox_client(
        self, repo_root: Path, rate: Pace, reads: ReadBudget | None
    ) -> tuple[Credentials, ZoomClient]:
        # Imported here: the sandbox (starlette, the tenant) is needed only with --sandbox.
        from reconciler.sandbox.acme import acme_tenant  # noqa: PLC0415
        from reconciler.sandbox.app import create_app  # noqa: PLC0415
        from reconciler.sandbox.config import SandboxConfig  # noqa: PLC0415
        from reconciler.sandbox.state import load_state, save_state  # noqa: PLC0415
        from reconciler.sandbox.transport import SandboxTransport  # noqa: PLC0415

        state_path = sandbox_state_path(repo_root)
        if not state_path.exists():
            private_folder(state_path.parent)
            save_state(state_path, acme_tenant(), SandboxConfig())
        tenant, config = load_state(state_path)
        app = self.sandbox_app(create_app(config, tenant, state_path=state_path))
        credentials = Credentials(tenant.account.id, config.client_id, Secret(config.client_secret))
        rate = _resumed(rate, repo_root, tenant.account.id)
        endpoints = Endpoints(f"{SANDBOX_BASE}/v2", f"{SANDBOX_BASE}/oauth/token")
        transport = SandboxTransport(app)
        return credentials, ZoomClient(
            credentials, endpoints, rate=rate, transport=transport, read_budget=reads
        )


def _resumed(pace: Pace, repo_root: Path, account_id: str) -> Pace:
    """A probe starts where the last run for this account proved it could go."""
    if not isinstance(pace, Probe):
        return pace
    return resumed(pace, repo_root / RATE_FILE, account_id)
