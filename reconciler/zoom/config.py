"""Where Zoom is and who we are: credentials and base URLs, from the environment or given."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from reconciler.errors import ConfigError, CredentialsMissing
from reconciler.escape import printable
from reconciler.vocab import Tier
from reconciler.zoom.pacer import Probe

DEFAULT_API_URL = "https://api.zoom.us/v2"
DEFAULT_OAUTH_URL = "https://zoom.us/oauth/token"

# Requests per second of Zoom's MEDIUM label (every settings endpoint) by plan.
MEDIUM_RATE_BY_TIER: dict[Tier, float] = {"free": 2.0, "pro": 20.0, "business": 60.0}
# No tier and no rate: start at Pro's rate and probe up to Business's (Zoom's highest).
DISCOVER = Probe(start=MEDIUM_RATE_BY_TIER["pro"], ceiling=MEDIUM_RATE_BY_TIER["business"])
# How to pace: at a rate, probing for one, or (None) by Zoom's headers alone.
Pace = float | Probe | None

_CREDENTIAL_VARIABLES = ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET")
# How much of a URL a message shows.
URL_CHARS = 120


class Secret:
    """A string that never shows itself in repr, str, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Credentials:
    """Server-to-Server OAuth app credentials."""

    account_id: str
    client_id: str
    client_secret: Secret = field(repr=True)


@dataclass(frozen=True)
class Endpoints:
    api_url: str = DEFAULT_API_URL
    oauth_url: str = DEFAULT_OAUTH_URL

    def __post_init__(self) -> None:
        for name, url in (("ZOOM_API_URL", self.api_url), ("ZOOM_OAUTH_URL", self.oauth_url)):
            require_safe_url(name, url)


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_safe_url(name: str, url: str) -> None:
    """Tokens and secrets travel only over https, or plain http to this machine; a URL carries
    no user name or password, no query and no fragment, and its port is a number. Nothing in it
    is white space or a control character: URL parsers drop some of them silently (a newline
    inside the host), so what is checked would not be what is asked."""
    odd = next((index for index, char in enumerate(url) if _unfit(char)), None)
    if odd is not None:
        # Not quoted back: the text around it may hold a password.
        raise ConfigError(
            f"{name} has a space or control character at character {odd + 1}",
            hint="write the URL on its own, with nothing before, inside or after it",
        )
    parts = _split(name, url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return
    raise ConfigError(
        f"{name}={_shown(parts)} is not an https:// URL",
        hint="use https://, or plain http:// only for a loopback address such as 127.0.0.1",
    )


def _unfit(char: str) -> bool:
    return char.isspace() or not char.isprintable()


def _split(name: str, url: str) -> SplitResult:
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed "[" of an IPv6 address
        # Not quoted back: the unparsed text may hold a password.
        raise ConfigError(
            f"{name} does not parse as a URL", hint="write it as https://host/path"
        ) from None
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{name}={_shown(parts)} carries a user name or password before its host",
            hint="drop the part before '@': credentials go in ZOOM_CLIENT_ID and "
            "ZOOM_CLIENT_SECRET, never in a URL",
        )
    try:
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError:
        raise ConfigError(
            f"{name}={_shown(parts)} has a port that is not a number from 0 to 65535",
            hint="write the port as digits after the host, as in https://host:8443/path",
        ) from None
    if parts.query or parts.fragment:
        raise ConfigError(
            f"{name}={_shown(parts)} has a query or fragment, which requests would lose",
            hint="drop everything from '?' or '#'",
        )
    return parts


def _shown(parts: SplitResult) -> str:
    """The URL as a message may show it: without any user name or password, query or
    fragment (where secrets could be)."""
    host = parts.netloc.rpartition("@")[2]
    return _quoted(f"{parts.scheme}://{host}{parts.path}" if host else parts.path)


def _quoted(text: str) -> str:
    return "'" + printable(text, URL_CHARS) + "'"


def credentials_from_env(env: Mapping[str, str] | None = None) -> Credentials:
    env = os.environ if env is None else env
    missing = [name for name in _CREDENTIAL_VARIABLES if not env.get(name)]
    if missing:
        raise CredentialsMissing(
            f"Zoom credentials missing: {', '.join(missing)} not set",
            hint="set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET from your "
            "Server-to-Server OAuth app, or try --sandbox",
        )
    return Credentials(
        account_id=env["ZOOM_ACCOUNT_ID"],
        client_id=env["ZOOM_CLIENT_ID"],
        client_secret=Secret(env["ZOOM_CLIENT_SECRET"]),
    )


def endpoints_from_env(env: Mapping[str, str] | None = None) -> Endpoints:
    env = os.environ if env is None else env
    # Stripped, as a shell or a CI secret's trailing newline leaves it, then checked whole.
    return Endpoints(
        api_url=env.get("ZOOM_API_URL", "").strip() or DEFAULT_API_URL,
        oauth_url=env.get("ZOOM_OAUTH_URL", "").strip() or DEFAULT_OAUTH_URL,
    )


def rate_for(tier: Tier | None = None, rate: float | None = None) -> float | Probe:
    """How to pace: an explicit rate wins over a tier; with neither, probe for the account's rate
    between the Pro and the Business figure. The probe never goes below Pro's rate unless
    `X-RateLimit-Limit` says so: a Free account (2/s) should say `rate_tier: free`."""
    if rate is not None:
        if rate <= 0:
            raise ConfigError(f"rate must be positive, got {rate}")
        return rate
    if tier is None:
        return DISCOVER
    return MEDIUM_RATE_BY_TIER[tier]
