"""`reconciler watch PATH --listen HOST:PORT [--heal] [--resync-every SECONDS]`."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import click

from reconciler.apply.audit_log import audit_log_path
from reconciler.cli_options import audit_log_option, path_argument
from reconciler.connect import Connector
from reconciler.errors import ValidationFailed
from reconciler.escape import printable
from reconciler.exitcodes import ExitCode
from reconciler.watch.repo import WatchedRepo
from reconciler.watch.run import parse_listen, run_watch
from reconciler.watch.worker import COALESCE_SECONDS, WatchSettings

SECRET_ENV = "ZOOM_WEBHOOK_SECRET_TOKEN"  # noqa: S105 - the variable's name


def _log_to_stderr() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("reconciler.watch")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _fail(message: str) -> None:
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(int(ExitCode.ERROR))


@click.command()
@path_argument
@click.option("--listen", required=True, metavar="HOST:PORT", help="Where Zoom's events arrive.")
@click.option("--heal", is_flag=True, help="Put managed drift back (else only report it).")
@click.option(
    "--resync-every",
    type=click.FloatRange(min=1),
    metavar="SECONDS",
    help="Also plan (and with --heal apply) everything this often.",
)
@click.option(
    "--window",
    type=click.FloatRange(min=0),
    default=COALESCE_SECONDS,
    show_default=True,
    metavar="SECONDS",
    help="How long events gather before a pass.",
)
@audit_log_option
def watch(
    path: str,
    listen: str,
    heal: bool,
    resync_every: float | None,
    window: float,
    audit_log: Path | None,
) -> None:
    """Receive Zoom's signed webhooks and re-plan (with --heal, repair) what each event touches.

    The app's secret token is read from ZOOM_WEBHOOK_SECRET_TOKEN."""
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        _fail(
            f"{SECRET_ENV} is not set: give it the secret token of the Zoom app's event "
            "subscription"
        )
    where = parse_listen(listen)
    _log_to_stderr()
    try:
        repo = WatchedRepo(path)
    except ValidationFailed as failed:
        for problem in failed.problems:
            click.echo(printable(str(problem)), err=True)
        _fail(f"{path}: the settings repo has {len(failed.problems)} problem(s); fix them first")
    settings = WatchSettings(
        heal=heal,
        audit_log=audit_log_path(repo.state.root, audit_log),
        window=window,
        resync_every=resync_every,
    )
    # The account's credentials come from the environment, read here and nowhere below.
    connector = (click.get_current_context().find_object(Connector) or Connector()).from_env()
    asyncio.run(run_watch(repo, connector, where, secret.encode("utf-8"), settings))
