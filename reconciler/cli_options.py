"""Options that several commands share, defined once so they read and behave the same."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

CommandT = TypeVar("CommandT", bound=Callable[..., Any])


def path_argument(command: CommandT) -> CommandT:
    """PATH: the settings repo, the current folder by default."""
    return click.argument("path", default=".", type=click.Path(path_type=str))(command)


def sandbox_option(what: str) -> Callable[[CommandT], CommandT]:
    """--sandbox: talk to the built-in Zoom sandbox instead of the account in ZOOM_*."""
    return click.option("--sandbox", is_flag=True, help=f"{what} the built-in Zoom sandbox.")


def format_option(formats: Sequence[str], default: str = "text") -> Callable[[CommandT], CommandT]:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(formats)),
        default=default,
        show_default=True,
    )


targets_option = click.option(
    "--target",
    "targets",
    multiple=True,
    help="Only this target: account, group:NAME, user:EMAIL (repeatable).",
)
changed_since_option = click.option(
    "--changed-since",
    metavar="GIT_REV",
    help="Only targets whose desired settings changed since this git revision.",
)
strict_option = click.option(
    "--strict",
    is_flag=True,
    help="Exit 1 on warnings too (a user file for a user who is not active in Zoom).",
)
quiet_option = click.option(
    "--quiet", is_flag=True, help="No progress on stderr (errors and warnings still show)."
)
