"""The sandbox's knobs: credentials, token lifetime, rate limits, latency, faults, lock policy.

`SandboxConfig` is a pydantic model so the same definition validates the CLI, the state file and
`PATCH /_sandbox/config`. The default credentials are fixed, non-secret test values.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    def with_changes(self, changes: dict[str, Any]) -> SandboxConfig:
        """A new validated config: `changes` deep-merged over this one (raises ValidationError)."""
        merged = _deep_merge(self.model_dump(), changes)
        return SandboxConfig.model_validate(merged)


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
