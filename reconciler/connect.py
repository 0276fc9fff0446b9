"""Open a ZoomClient for a run: the real Zoom from the environment, or the built-in sandbox.

`--sandbox` runs the sandbox in-process (no socket), seeded with the example tenant that matches
`examples/acme/`, its state kept in `.reconciler/sandbox.json` beside the settings repo so that
plan, apply, plan converges across commands.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from reconciler.zoom import ZoomClient
from reconciler.zoom.config import (
    Credentials,
    Endpoints,
    Secret,
    Tier,
    credentials_from_env,
    endpoints_from_env,
    rate_for,
)

SANDBOX_STATE = Path(".reconciler") / "sandbox.json"
SANDBOX_BASE = "http://127.0.0.1"


def sandbox_state_path(repo_root: Path) -> Path:
    return repo_root / SANDBOX_STATE


@asynccontextmanager
async def connect(
    repo_root: Path, *, sandbox: bool, tier: Tier, rate: float | None = None, paced: bool = True
) -> AsyncIterator[ZoomClient]:
    """`paced=False` leaves pacing to Zoom's headers alone (for a limit that is off)."""
    pace = rate_for(tier, rate) if paced else None
    if not sandbox:
        async with ZoomClient(credentials_from_env(), endpoints_from_env(), rate=pace) as zoom:
            yield zoom
        return
    async with _sandbox_client(repo_root, pace) as zoom:
        yield zoom


@asynccontextmanager
async def _sandbox_client(repo_root: Path, rate: float | None) -> AsyncIterator[ZoomClient]:
    # Imported here: the sandbox (starlette, the tenant) is needed only with --sandbox.
    from reconciler.sandbox.acme import acme_tenant  # noqa: PLC0415
    from reconciler.sandbox.app import create_app  # noqa: PLC0415
    from reconciler.sandbox.config import SandboxConfig  # noqa: PLC0415
    from reconciler.sandbox.state import load_state, save_state  # noqa: PLC0415
    from reconciler.sandbox.transport import SandboxTransport  # noqa: PLC0415

    state_path = sandbox_state_path(repo_root)
    if not state_path.exists():
        state_path.parent.mkdir(parents=True, exist_ok=True)
        save_state(state_path, acme_tenant(), SandboxConfig())
    tenant, config = load_state(state_path)
    app = create_app(config, tenant, state_path=state_path)
    credentials = Credentials(tenant.account.id, config.client_id, Secret(config.client_secret))
    endpoints = Endpoints(f"{SANDBOX_BASE}/v2", f"{SANDBOX_BASE}/oauth/token")
    async with ZoomClient(
        credentials, endpoints, rate=rate, transport=SandboxTransport(app)
    ) as zoom:
        yield zoom
