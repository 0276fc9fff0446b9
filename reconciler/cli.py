"""The command line: parse, call the core, render, pick the exit code. Nothing else prints."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler import __version__
from reconciler.desired import DesiredState, load_repo
from reconciler.desired.editor_schemas import write_schemas
from reconciler.desired.problems import github_annotation
from reconciler.errors import ValidationFailed
from reconciler.sandbox.cli import sandbox


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Declarative GitOps reconciler for Zoom settings."""


cli.add_command(sandbox)


def _summary(state: DesiredState) -> str:
    parts = ["account" if state.account else "no account.yaml"]
    if state.defaults_file:
        parts.append(f"defaults ({state.defaults_file})")
    parts += [f"{len(state.groups)} groups", f"{len(state.users)} users"]
    return ", ".join(parts)


def _report(failed: ValidationFailed, path: str) -> None:
    annotate = os.environ.get("GITHUB_ACTIONS") == "true"
    prefix = "" if os.path.normpath(path) == "." else os.path.normpath(path) + "/"
    for found in failed.problems:
        click.echo(str(found))
        if annotate:
            click.echo(github_annotation(found, prefix))
    click.echo(_count(failed), err=True)


def _count(failed: ValidationFailed) -> str:
    count, files = len(failed.problems), len({p.file for p in failed.problems if p.file})
    text = f"{count} problem{'' if count == 1 else 's'}"
    return f"{text} in {files} file{'' if files == 1 else 's'}" if files else text


@cli.command()
@click.argument("path", default=".", type=click.Path(path_type=str))
def validate(path: str) -> None:
    """Check the settings repo at PATH offline: every problem with file:line:col."""
    try:
        state = load_repo(path)
    except ValidationFailed as failed:
        _report(failed, path)
        sys.exit(1)
    click.echo(f"{path}: valid: {_summary(state)}")


@cli.command()
@click.option(
    "--out",
    default="schemas/repo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the schemas into.",
)
def schema(out: Path) -> None:
    """Write the JSON Schemas of the settings repo's files (for editors and check-jsonschema)."""
    for written in write_schemas(out):
        click.echo(str(written))


def main() -> None:
    cli()
