"""Generate docs/commands.md, the command reference, from the click commands themselves.

Usage: python scripts/commands_doc.py [--write | --check]

Without an option the Markdown goes to stdout; --write writes docs/commands.md; --check exits 1
when docs/commands.md differs from what --write would write (tests/test_commands_doc.py does the
same), so the reference cannot drift from `reconciler --help`.

The text is built from click's command and parameter objects, never from `--help` output, so it
does not depend on the terminal's width. Commands follow click's own order (sorted by name, as
`--help` lists them), parameters the order they are declared in; hidden ones are left out.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from reconciler.cli import cli

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC_PATH = REPO_ROOT / "docs" / "commands.md"
PROG_NAME = "reconciler"
REGENERATE = "python scripts/commands_doc.py --write"

_INLINE_SPECIALS = re.compile(r"([\\`*\[\]<])")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_BLOCK_START = re.compile(r"^(#|>|[-+=]|\d+[.)])")


# -- Markdown text ------------------------------------------------------------------------------


def _inline(text: str) -> str:
    """Prose as Markdown shows it literally (underscores inside words are left alone)."""
    text = _INLINE_SPECIALS.sub(r"\\\1", text)
    return _LONE_UNDERSCORE.sub(r"\\_", text)


def _escape(text: str) -> str:
    """A paragraph of prose, which must not start a heading, quote or list either."""
    return _BLOCK_START.sub(r"\\\1", _inline(text))


def _cell(text: str) -> str:
    """Table cell text: one line, `|` escaped (GitHub needs that even inside code spans)."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    """An inline code span, fenced with enough backticks for what it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _paragraphs(text: str) -> list[str]:
    """click help text as Markdown paragraphs: lines joined like click rewraps them; a `\\b`
    paragraph (which click prints unwrapped) as a literal block."""
    blocks = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = chunk.splitlines()
        if lines and lines[0].strip() == "\b":
            body = "\n".join(lines[1:])
            blocks.append(f"```text\n{body}\n```")
        else:
            blocks.append(_escape(" ".join(line.strip() for line in lines)))
    return [block for block in blocks if block]


def _help_text(text: str | None) -> str:
    """click's help: dedented and cut at the first form feed, as `--help` prints it."""
    return inspect.cleandoc(text).partition("\f")[0] if text else ""


def _deprecated(command: click.Command) -> str:
    """(click puts the label into a parameter's help itself, but not into a command's.)"""
    deprecated = command.deprecated
    if not deprecated:
        return ""
    return f"Deprecated: {deprecated}" if isinstance(deprecated, str) else "Deprecated."


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = heading.lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


# -- parameters ---------------------------------------------------------------------------------


def _is_unset(value: object) -> bool:
    return value is None or type(value).__name__ == "Sentinel" or value in ((), [])


def _range(kind: click.FloatRange | click.IntRange) -> str:
    """The range as click's `--help` writes it: x>=0, x<5, 0<=x<=1."""
    low = "<" if kind.min_open else "<="
    high = "<" if kind.max_open else "<="
    if kind.min is not None and kind.max is not None:
        return f"{kind.min}{low}x{high}{kind.max}"
    if kind.min is not None:
        return f"x{low.replace('<', '>')}{kind.min}"
    if kind.max is not None:
        return f"x{high}{kind.max}"
    return ""


def _type(param: click.Parameter) -> str:
    """What the parameter takes: flag, choices, metavar or type name, range, how many."""
    kind = param.type
    if isinstance(param, click.Option) and param.count:
        text = "count"
    elif isinstance(param, click.Option) and param.is_flag and param.is_bool_flag:
        text = "flag"
    elif isinstance(kind, click.Choice) and param.metavar is None:
        text = "one of " + ", ".join(_code(str(choice)) for choice in kind.choices)
    elif param.metavar is not None:
        text = _code(param.metavar)
    elif isinstance(kind, click.FloatRange):
        text = _code("FLOAT")
    elif isinstance(kind, click.IntRange):
        text = _code("INTEGER")
    else:
        text = _code(kind.name.upper())
    if isinstance(kind, (click.FloatRange, click.IntRange)) and _range(kind):
        text += f" ({_range(kind)})"
    if param.nargs == -1:
        text += ", any number" if not param.required else ", one or more"
    elif param.nargs > 1:
        text += f", {param.nargs} values"
    if isinstance(param, click.Option) and not param.is_flag and not _is_unset(param.flag_value):
        text += f", value optional (alone: {_code(str(param.flag_value))})"
    if param.multiple:
        text += ", repeatable"
    if isinstance(param, click.Option) and param.required:
        text += ", required"
    if isinstance(param, click.Argument):
        text += ", required" if param.required else ", optional"
    return text


def _default(param: click.Parameter, ctx: click.Context) -> str:
    """The default as a user would type it; blank when there is none (or it says so itself)."""
    show = getattr(param, "show_default", None)
    if isinstance(show, str):
        return _inline(show)
    if show is False:
        return ""
    value = param.get_default(ctx, call=False)
    if callable(value):
        return "(dynamic)"
    if isinstance(param, click.Option) and param.is_bool_flag:
        if not value:
            return ""
        return _code(param.opts[0]) if param.secondary_opts else "on"
    if _is_unset(value) or (isinstance(param, click.Option) and param.count and value == 0):
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_code(str(item)) for item in value)
    if isinstance(value, enum.Enum):
        return _code(value.name)
    return _code(str(value)) if str(value) else _code('""')


def _description(param: click.Parameter) -> str:
    parts = [" ".join(_help_text(getattr(param, "help", None)).split())]
    envvar = getattr(param, "envvar", None)
    if envvar:
        names = [envvar] if isinstance(envvar, str) else list(envvar)
        parts.append("Environment: " + ", ".join(names) + ".")
    return _inline(" ".join(part for part in parts if part))


def _option_names(option: click.Option) -> str:
    names = [_code(name) for name in option.opts]
    names += [_code(name) for name in option.secondary_opts]
    return ", ".join(names)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return lines


# -- commands -----------------------------------------------------------------------------------


def _subcommands(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """A group's visible subcommands, each with its context, in click's order (by name)."""
    if not isinstance(command, click.Group):
        return
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            # The command's own context class: it may word its path its own way.
            yield sub, sub.context_class(sub, info_name=name, parent=ctx, **sub.context_settings)


def _walk(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """The command, then every visible command under it, depth first."""
    yield command, ctx
    for sub, sub_ctx in _subcommands(command, ctx):
        yield from _walk(sub, sub_ctx)


def _heading(ctx: click.Context) -> str:
    return _code(ctx.command_path)


def _summary(command: click.Command) -> str:
    """The first sentence of the help (or the short help), never cut short."""
    return _inline(command.get_short_help_str(limit=1_000))


def _visible(command: click.Command, ctx: click.Context) -> list[click.Parameter]:
    help_option = command.get_help_option(ctx)
    return [
        param
        for param in command.get_params(ctx)
        if param is not help_option and not getattr(param, "hidden", False)
    ]


def _section(command: click.Command, ctx: click.Context) -> list[str]:
    depth = ctx.command_path.count(" ")
    lines = ["#" * min(2 + max(depth - 1, 0), 6) + " " + _heading(ctx), ""]
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    lines += ["```text", usage, "```", ""]
    blocks = _paragraphs(_help_text(command.help))
    if _deprecated(command):
        blocks.append(f"**{_deprecated(command)}**")
    for block in blocks:
        lines += [block, ""]
    params = _visible(command, ctx)
    arguments = [param for param in params if isinstance(param, click.Argument)]
    options = [param for param in params if isinstance(param, click.Option)]
    if arguments:
        rows = [
            [_code(arg.human_readable_name), _type(arg), _default(arg, ctx), _description(arg)]
            for arg in arguments
        ]
        lines += [*_table(["Argument", "Type", "Default", "Description"], rows), ""]
    if options:
        rows = [
            [_option_names(opt), _type(opt), _default(opt, ctx), _description(opt)]
            for opt in options
        ]
        lines += [*_table(["Option", "Type", "Default", "Description"], rows), ""]
    rows = [
        [f"[{_heading(sub_ctx)}](#{_anchor(_heading(sub_ctx))})", _summary(sub)]
        for sub, sub_ctx in _subcommands(command, ctx)
    ]
    if rows:
        lines += [*_table(["Command", "Summary"], rows), ""]
    epilog = _help_text(command.epilog)
    for block in _paragraphs(epilog):
        lines += [block, ""]
    return lines


def render(root: click.Command = cli, prog_name: str = PROG_NAME) -> str:
    """The whole reference, ending in one newline."""
    root_ctx = click.Context(root, info_name=prog_name, **root.context_settings)
    help_names = ", ".join(_code(name) for name in root.get_help_option_names(root_ctx))
    lines = [
        "# Command reference",
        "",
        "<!-- Generated by scripts/commands_doc.py from the click commands; do not edit. -->",
        "",
        f"Generated from the click commands by `{REGENERATE}` "
        f"(or `python scripts/commands_doc.py > docs/commands.md`); do not edit by hand. "
        f"Every command also takes {help_names} for its help.",
        "",
    ]
    for command, ctx in _walk(root, root_ctx):
        lines += _section(command, ctx)
    return "\n".join(lines).rstrip("\n") + "\n"


# -- entry point --------------------------------------------------------------------------------


def is_current(path: Path = DOC_PATH) -> bool:
    """Whether the file at `path` holds exactly what `render()` makes now."""
    try:
        return path.read_text(encoding="utf-8") == render()
    except FileNotFoundError:
        return False


def _shown(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    """Print the reference (or --write it, or --check it); the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help=f"write {_shown(DOC_PATH)}")
    mode.add_argument(
        "--check", action="store_true", help=f"exit 1 when {_shown(DOC_PATH)} is out of date"
    )
    args = parser.parse_args(argv)
    if args.check:
        if is_current(DOC_PATH):
            return 0
        print(f"{_shown(DOC_PATH)} is out of date; run: {REGENERATE}", file=sys.stderr)
        return 1
    text = render()
    if args.write:
        DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
        DOC_PATH.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {_shown(DOC_PATH)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
