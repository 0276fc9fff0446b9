"""A faithful Zoom API emulator for tests, benchmarks and the quick start.

    app = create_app(SandboxConfig(), generate_tenant(users=100))   # or acme_tenant()
    async with httpx2.AsyncClient(transport=SandboxTransport(app), base_url="http://sandbox") as c:
        ...
    with running_sandbox(app) as url:    # uvicorn on 127.0.0.1; API at f"{url}/v2"
        ...

`app.sandbox` (also `app.state.sandbox`) is the `Sandbox`: `.tenant`, `.config`, `.journal`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.sandbox.acme import acme_tenant
    from reconciler.sandbox.app import SandboxApp, create_app
    from reconciler.sandbox.config import (
        DEFAULT_ACCOUNT_ID,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        FaultConfig,
        SandboxConfig,
    )
    from reconciler.sandbox.faults import ConnectionDropped
    from reconciler.sandbox.generate import generate_tenant
    from reconciler.sandbox.journal import Entry, Journal
    from reconciler.sandbox.runtime import Sandbox
    from reconciler.sandbox.server import running_sandbox, serve
    from reconciler.sandbox.state import load_state, save_state
    from reconciler.sandbox.tenant import Tenant
    from reconciler.sandbox.transport import SandboxTransport

# Imported on first use, so `reconciler --help` does not load starlette, uvicorn and jsonschema.
_HOMES = {
    "acme_tenant": "acme",
    "SandboxApp": "app",
    "create_app": "app",
    "DEFAULT_ACCOUNT_ID": "config",
    "DEFAULT_CLIENT_ID": "config",
    "DEFAULT_CLIENT_SECRET": "config",
    "FaultConfig": "config",
    "SandboxConfig": "config",
    "ConnectionDropped": "faults",
    "generate_tenant": "generate",
    "Entry": "journal",
    "Journal": "journal",
    "Sandbox": "runtime",
    "running_sandbox": "server",
    "serve": "server",
    "load_state": "state",
    "save_state": "state",
    "Tenant": "tenant",
    "SandboxTransport": "transport",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "ConnectionDropped",
    "Entry",
    "FaultConfig",
    "Journal",
    "Sandbox",
    "SandboxApp",
    "SandboxConfig",
    "SandboxTransport",
    "Tenant",
    "acme_tenant",
    "create_app",
    "generate_tenant",
    "load_state",
    "running_sandbox",
    "save_state",
    "serve",
]
