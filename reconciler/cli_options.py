"""Options that several commands share, defined once so they read and behave the same; and the
command class of a command that also has subcommands (`audit`, `audit verify`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
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
audit_log_option = click.option(
    "--audit-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append-only JSON-lines log [default: PATH/.reconciler/audit.log].",
)
quiet_option = click.option(
    "--quiet", is_flag=True, help="No progress on stderr (errors and warnings still show)."
)


class CommandWithSubcommands(click.Group):
    """A command with arguments of its own and subcommands: `audit PATH` runs an audit, `audit
    verify DIR` checks an evidence bundle. A click group takes a subcommand where this command
    takes PATH, so the first word decides: a subcommand's name (a repo of that name is reached
    as `./verify`), or PATH."""

    allow_interspersed_args = True  # a command's, not a group's: `audit PATH --sandbox`

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            ctx.meta[_SUBCOMMAND] = args
            return []
        return click.Command.parse_args(self, ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        words = ctx.meta.pop(_SUBCOMMAND, None)
        if words is None:
            return click.Command.invoke(self, ctx)
        name, *rest = words
        with self.commands[name].make_context(name, rest, parent=ctx) as sub:
            return sub.command.invoke(sub)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return click.Command.collect_usage_pieces(self, ctx)


_SUBCOMMAND = "reconciler.subcommand"


class _SubcommandContext(click.Context):
    """`reconciler audit verify`, not click's `reconciler audit [PATH] verify`: the command's
    PATH is no part of a subcommand's path."""

    @property
    def command_path(self) -> str:
        parent = self.parent.command_path if self.parent is not None else ""
        return f"{parent} {self.info_name}".strip()


class Subcommand(click.Command):
    context_class = _SubcommandContext
