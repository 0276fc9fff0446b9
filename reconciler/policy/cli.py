"""`reconciler policy ...` commands: list the rules of packs, run a pack file's examples.

The policy modules are imported inside the commands: they load the CEL library, which takes
about 150 ms, and `reconciler --help` should not wait for it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from reconciler.errors import ConfigError, ValidationFailed
from reconciler.escape import printable

if TYPE_CHECKING:
    from reconciler.policy.examples import ExampleResult
    from reconciler.policy.manual import ManualItem
    from reconciler.policy.rules import Pack, Rule


@click.group()
def policy() -> None:
    """Policy packs: rules over Zoom settings, in CEL."""


@policy.command("list")
@click.option(
    "--pack",
    "packs",
    multiple=True,
    metavar="NAME",
    help="A shipped pack's name, or a pack file's path (default: every shipped pack).",
)
def list_rules(packs: tuple[str, ...]) -> None:
    """Each pack's name and title, then one rule a line: id, severity, profile, levels, title;
    then its manual items (no API can check them), `manual` where the severity would be."""
    from reconciler.policy.packs import installed, load_named  # noqa: PLC0415 - see above

    try:
        loaded = [_load_any(name) for name in packs] if packs else load_named(installed())
    except ConfigError as exc:
        _exit_with_problems(exc)
    for pack in loaded:
        click.echo(_pack_line(pack))
        for rule in pack.rules:
            click.echo(_rule_line(rule))
        for item in pack.manual:
            click.echo(_manual_line(item))


def _load_any(name: str) -> Pack:
    from reconciler.policy.packs import is_shipped, load_named  # noqa: PLC0415
    from reconciler.policy.rules import load_pack  # noqa: PLC0415

    if name.endswith(".yaml"):
        return load_pack(Path(name), name, shipped=is_shipped(Path(name)))
    return load_named([name])[0]


def _pack_line(pack: Pack) -> str:
    count = len(pack.rules)
    # a repo pack's text is the pack author's: shown with hidden characters escaped
    title = printable(pack.title)
    counted = f"{count} rule{'' if count == 1 else 's'}"
    if pack.manual:
        counted += f", {len(pack.manual)} manual item{'' if len(pack.manual) == 1 else 's'}"
    return f"{printable(pack.name)}: {title} ({counted})"


def _rule_line(rule: Rule) -> str:
    """Tab-separated under its pack's line; `-` for a rule without a profile."""
    profile = f"profile {rule.profile}" if rule.profile is not None else "-"
    fields = (rule.id, rule.severity, profile, ",".join(rule.levels), printable(rule.title))
    return "  " + "\t".join(fields)


def _manual_line(item: ManualItem) -> str:
    profile = f"profile {item.profile}" if item.profile is not None else "-"
    return "  " + "\t".join((item.id, "manual", profile, "-", printable(item.title)))


@policy.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def test_packs(files: tuple[Path, ...]) -> None:
    """Run every rule's examples: pass must pass, fail must fail, not_applicable must not apply.

    Also reports a field a rule reads that Zoom's settings do not have at one of its levels.
    Exit 0 when every example holds and no file has a problem, 1 otherwise.
    """
    good = True
    counts = [0, 0]  # examples run, examples that failed
    for file in files:
        good = _test_file(file, counts) and good
    run, failed = counts
    click.echo(f"{run - failed} passed, {failed} failed ({len(files)} file(s))")
    sys.exit(0 if good and not failed else 1)


def _test_file(file: Path, counts: list[int]) -> bool:
    from reconciler.policy.examples import run_examples  # noqa: PLC0415
    from reconciler.policy.fields import field_problems  # noqa: PLC0415
    from reconciler.policy.packs import is_shipped  # noqa: PLC0415
    from reconciler.policy.rules import load_pack  # noqa: PLC0415

    try:
        pack = load_pack(file, str(file), shipped=is_shipped(file))
    except ValidationFailed as exc:
        _echo_problems(exc.problems)
        return False
    problems = field_problems(pack)
    _echo_problems(problems)
    results = run_examples(pack)
    for result in results:
        if not result.ok:
            click.echo(_failure_line(result))
    counts[0] += len(results)
    counts[1] += sum(not result.ok for result in results)
    return not problems


def _failure_line(result: ExampleResult) -> str:
    text = (
        f"{result.where}: {result.rule.id}: a {result.example.kind} example is "
        f"{result.outcome.value}"
    )
    return f"{text} ({result.error})" if result.error else text


def _echo_problems(problems: list[ConfigError]) -> None:
    for problem in problems:
        click.echo(str(problem))


def _exit_with_problems(exc: ConfigError) -> NoReturn:
    _echo_problems(exc.problems if isinstance(exc, ValidationFailed) else [exc])
    sys.exit(1)
