"""`reconciler sandbox ...` commands."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.errors import ConfigError

if TYPE_CHECKING:
    from reconciler.sandbox.config import SandboxConfig

_CHANGES_BY_OPTION = (
    "latency_ms",
    "jitter_ms",
    "rate_limit",
    "daily_cap",
    "fault_rate",
    "slow_rate",
    "token_lifetime",
    "locked_patch",
    "seed",
)


@click.group()
def sandbox() -> None:
    """Run the built-in Zoom API sandbox."""


def _rate(value: str) -> float | None:
    if value.lower() == "off":
        return None
    try:
        rate = float(value)
    except ValueError:
        raise click.BadParameter("expected a number of requests per second, or 'off'") from None
    if rate <= 0:
        raise click.BadParameter("must be positive (or 'off')")
    return rate


def _config_changes(options: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """SandboxConfig changes for the options the user gave (all of them for a fresh sandbox)."""
    changes: dict[str, Any] = {}
    simple = ("latency_ms", "jitter_ms", "daily_cap", "token_lifetime", "locked_patch", "seed")
    for name in simple:
        if name in given:
            changes[name] = options[name]
    if "rate_limit" in given:
        rate = _rate(options["rate_limit"])
        changes["rate_limits"] = (
            {"MEDIUM": rate} if rate else dict.fromkeys(("LIGHT", "MEDIUM", "HEAVY"))
        )
    faults: dict[str, Any] = {}
    if "fault_rate" in given:
        share = options["fault_rate"] / 4
        faults.update(error_500=share, error_502=share, error_503=share, drop=share)
    if "slow_rate" in given:
        faults["slow"] = options["slow_rate"]
    return {**changes, "faults": faults} if faults else changes


def _check_tenant_options(options: dict[str, Any], given: set[str]) -> None:
    """--users and --groups shape a generated tenant; a --state file that exists is the tenant."""
    sizes = {"users", "groups"} & given
    if sizes and options["tenant"] == "acme":
        raise click.UsageError(f"--{sorted(sizes)[0]} shapes a generated tenant, not --tenant acme")
    if sizes:
        options["tenant"] = "generated"
    options["tenant"] = options["tenant"] or "acme"
    options["users"] = 1000 if options["users"] is None else options["users"]
    options["groups"] = 10 if options["groups"] is None else options["groups"]
    state: Path | None = options["state"]
    if state is not None and state.exists() and ({"tenant"} | sizes) & given:
        raise click.UsageError(
            f"--state {state} exists and holds its own tenant: drop --tenant/--users/--groups, "
            "or remove the file to start a new one"
        )


def _webhook_url(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from reconciler.sandbox.config import require_loopback_url  # noqa: PLC0415 - keep `--help` fast

    try:
        return require_loopback_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _webhook_changes(options: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """The `webhook` config from the --webhook-* options ({} without --webhook-url)."""
    if options["webhook_url"] is None:
        if "webhook_retry_scale" in given:
            raise click.UsageError("--webhook-retry-scale needs --webhook-url")
        return {}
    if not options["webhook_secret"]:
        raise click.UsageError(
            "--webhook-url needs the app's secret token: --webhook-secret or "
            "ZOOM_WEBHOOK_SECRET_TOKEN"
        )
    target = {
        "url": options["webhook_url"],
        "secret": options["webhook_secret"],
        "retry_scale": options["webhook_retry_scale"],
    }
    return {"webhook": target}


def _log_webhooks() -> None:
    """Delivery problems and the URL validation's outcome as lines on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("# %(message)s"))
    logger = logging.getLogger("reconciler.sandbox.webhooks")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _tenant(options: dict[str, Any]) -> Any:
    if options["tenant"] == "acme":
        from reconciler.sandbox.acme import acme_tenant  # noqa: PLC0415 - loads schemas

        return acme_tenant()
    from reconciler.sandbox.generate import generate_tenant  # noqa: PLC0415 - loads schemas

    return generate_tenant(users=options["users"], groups=options["groups"], seed=options["seed"])


def _load(options: dict[str, Any], given: set[str]) -> tuple[Any, SandboxConfig]:
    from reconciler.sandbox.config import SandboxConfig  # noqa: PLC0415 - keep `--help` fast

    state: Path | None = options["state"]
    if state is not None and state.exists():
        from reconciler.sandbox.state import load_state  # noqa: PLC0415

        tenant, config = load_state(state)
        return tenant, config.with_changes(_config_changes(options, given))
    changes = _config_changes(options, set(_CHANGES_BY_OPTION))
    return _tenant(options), SandboxConfig().with_changes(changes)


def _exports(url: str, account_id: str, config: SandboxConfig) -> str:
    return "\n".join(
        [
            f"export ZOOM_API_URL={url}/v2",
            f"export ZOOM_OAUTH_URL={url}/oauth/token",
            f"export ZOOM_ACCOUNT_ID={account_id}",
            f"export ZOOM_CLIENT_ID={config.client_id}",
            f"export ZOOM_CLIENT_SECRET={config.client_secret}",
        ]
    )


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address only.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0: a free port."
)
@click.option(
    "--tenant",
    type=click.Choice(["acme", "generated"]),
    default=None,
    help="The example Acme tenant (default), or a generated one (implied by --users/--groups).",
)
@click.option(
    "--users", type=click.IntRange(0, 1_000_000), default=None, help="Users of a generated tenant."
)
@click.option(
    "--groups", type=click.IntRange(0, 10_000), default=None, help="Groups of a generated tenant."
)
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Seeds it all.")
@click.option("--latency-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--jitter-ms", type=click.FloatRange(0), default=0.0, show_default=True)
@click.option("--rate-limit", default="60", show_default=True, help="MEDIUM req/s, or 'off'.")
@click.option(
    "--daily-cap",
    type=click.IntRange(0),
    default=None,
    help="Requests per UTC day (default: none).",
)
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--slow-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--token-lifetime", type=click.IntRange(1), default=3600, show_default=True)
@click.option(
    "--locked-patch", type=click.Choice(["ignore", "error"]), default="ignore", show_default=True
)
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--webhook-url",
    default=None,
    callback=_webhook_url,
    help="POST Zoom's signed event notifications for every settings, lock and membership "
    "write here (loopback only), e.g. http://127.0.0.1:8000/zoom/events.",
)
@click.option(
    "--webhook-secret",
    envvar="ZOOM_WEBHOOK_SECRET_TOKEN",
    default=None,
    help="The app's secret token that signs them (default: $ZOOM_WEBHOOK_SECRET_TOKEN).",
)
@click.option(
    "--webhook-retry-scale",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="Multiplies Zoom's retry delays (5, 20, 60 min); 0.01 makes them 3, 12, 36 s.",
)
@click.pass_context
def serve(ctx: click.Context, /, **options: Any) -> None:
    """Serve a Zoom API sandbox on loopback until Ctrl-C.

    Prints the environment that points the reconciler at it. --fault-rate spreads over 500, 502,
    503 and dropped connections; --slow-rate answers after 30 s. --state FILE loads the tenant
    from FILE when it exists and writes it back after every change. The credentials printed are
    fixed, public test values.

    With --webhook-url, each accepted settings, lock or membership write sends the event Zoom
    would (user.settings_updated, group.member_added, ...), signed with --webhook-secret, from
    the background, retried on Zoom's schedule; the operator is the write's X-Sandbox-Operator
    header (an email), else the account's owner. At start it sends Zoom's URL validation
    challenge and logs whether the receiver answered it right. GET /_sandbox/webhooks shows
    each event's attempts and outcome.
    """
    from reconciler.sandbox.app import create_app  # noqa: PLC0415 - keep `--help` fast
    from reconciler.sandbox.server import require_loopback  # noqa: PLC0415
    from reconciler.sandbox.server import serve as run  # noqa: PLC0415
    from reconciler.sandbox.state import save_state  # noqa: PLC0415

    given = {
        n for n in options if ctx.get_parameter_source(n) != click.core.ParameterSource.DEFAULT
    }
    _check_tenant_options(options, given)
    try:
        require_loopback(options["host"])
        tenant, config = _load(options, given)
        webhook = _webhook_changes(options, given)
        if options["state"] is not None:
            save_state(options["state"], tenant, config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        state = options["state"]
        raise click.ClickException(f"cannot write --state {state}: {exc.strerror}") from None
    if webhook:
        # After the state is saved: the secret is the receiver's, and never written to a file.
        config = config.with_changes(webhook)
        _log_webhooks()
    app = create_app(config, tenant, state_path=options["state"])

    def ready(url: str) -> None:
        click.echo(_exports(url, tenant.account.id, config))
        summary = f"{tenant.account.name}: {len(tenant.users)} users, {len(tenant.groups)} groups"
        click.echo(f"# Zoom sandbox ({summary}) at {url}; Ctrl-C stops it.", err=True)
        sys.stdout.flush()

    try:
        run(app, options["host"], options["port"], on_ready=ready)
    except OSError as exc:  # the port is taken, or the address cannot be bound
        where = f"{options['host']}:{options['port']}"
        raise click.ClickException(f"cannot listen on {where}: {exc.strerror or exc}") from None
