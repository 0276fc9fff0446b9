"""The sandbox's knobs: credentials, token lifetime, rate limits, latency, faults, lock policy,
and where to send webhook events.

`SandboxConfig` is a pydantic model so the same definition validates the CLI, the state file and
`PATCH /_sandbox/config`. The default credentials are fixed, non-secret test values. The webhook
target is not: its secret token is the receiver's, so it is never dumped (not to the state file,
not by `GET /_sandbox/config`) and comes from the command line or the caller each run.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from reconciler.zoom.config import is_loopback_host

DEFAULT_ACCOUNT_ID = "sandbox-account"
DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - a documented, non-secret test value

# Zoom's per-second limits by rate-limit label for Business and higher plans.
BUSINESS_RATES: dict[str, float | None] = {"LIGHT": 80.0, "MEDIUM": 60.0, "HEAVY": 40.0}
PRO_RATES: dict[str, float | None] = {"LIGHT": 30.0, "MEDIUM": 20.0, "HEAVY": 10.0}

LockedPatch = Literal["ignore", "error"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class FaultConfig(_Model):
    """Probabilities (0..1) of each fault per /v2 request; they must sum to at most 1."""

    error_500: Annotated[float, Field(ge=0, le=1)] = 0.0
    error_502: Annotated[float, Field(ge=0, le=1)] = 0.0
    error_503: Annotated[float, Field(ge=0, le=1)] = 0.0
    drop: Annotated[float, Field(ge=0, le=1)] = 0.0
    slow: Annotated[float, Field(ge=0, le=1)] = 0.0
    slow_seconds: Annotated[float, Field(ge=0)] = 30.0
    oauth: bool = False  # also inject faults into POST /oauth/token

    def total(self) -> float:
        return self.error_500 + self.error_502 + self.error_503 + self.drop + self.slow

    @model_validator(mode="after")
    def _at_most_certain(self) -> FaultConfig:
        if self.total() > 1:
            raise ValueError(f"fault probabilities add up to {self.total():g}, more than 1")
        return self


class WebhookTarget(_Model):
    """Where the sandbox POSTs Zoom's event notifications, and how it retries them.

    `retry_scale` multiplies Zoom's retry delays (5, 20 and 60 minutes): 0.01 makes them 3, 12
    and 36 seconds. `timeout_seconds` is how long a receiver has to answer (Zoom: 3 s).
    """

    url: str
    secret: SecretStr = Field(min_length=1)
    retry_scale: Annotated[float, Field(ge=0, le=1)] = 1.0
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0
    queue_limit: Annotated[int, Field(ge=1)] = 10_000

    @field_validator("url")
    @classmethod
    def _loopback_only(cls, url: str) -> str:
        return require_loopback_url(url)


def require_loopback_url(url: str) -> str:
    """`url` if it is http(s) to a loopback address, else ValueError: the sandbox is a test tool
    and must not send events (signed with a real secret) anywhere off this machine."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        raise ValueError(f"expected an http://127.0.0.1:PORT/... URL, not {url!r}")
    if parts.username or parts.password or parts.fragment:
        raise ValueError("the webhook URL must not hold a user name, password or fragment")
    if not is_loopback_host(parts.hostname):
        raise ValueError(
            f"the sandbox only sends webhooks to loopback, not {parts.hostname!r}; use 127.0.0.1"
        )
    return url


def _no_faults() -> FaultConfig:
    return FaultConfig()


class SandboxConfig(_Model):
    """Everything that shapes how the sandbox answers; changeable at runtime."""

    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    token_lifetime: Annotated[int, Field(ge=1)] = 3600
    rate_limits: dict[str, float | None] = Field(default_factory=lambda: dict(BUSINESS_RATES))
    daily_cap: Annotated[int | None, Field(ge=0)] = None
    max_concurrent_user_patches: Annotated[int | None, Field(ge=1)] = 1
    latency_ms: Annotated[float, Field(ge=0)] = 0.0
    jitter_ms: Annotated[float, Field(ge=0)] = 0.0
    faults: FaultConfig = Field(default_factory=_no_faults)
    locked_patch: LockedPatch = "ignore"
    max_page_size: Annotated[int, Field(ge=1)] = 300
    seed: int = 0
    webhook: WebhookTarget | None = Field(default=None, exclude=True)

    def with_changes(self, changes: dict[str, Any]) -> SandboxConfig:
        """A new validated config: `changes` deep-merged over this one (raises ValidationError)."""
        base = self.model_dump()
        if self.webhook is not None:  # excluded from dumps, so carried over by hand
            base["webhook"] = self.webhook.model_dump()
        merged = _deep_merge(base, changes)
        return SandboxConfig.model_validate(merged)


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
