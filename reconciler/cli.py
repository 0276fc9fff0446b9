"""The command line: parse, call the core, render, pick the exit code. Nothing else prints."""

from __future__ import annotations

import click

from reconciler import __version__
from reconciler.sandbox.cli import sandbox


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Declarative GitOps reconciler for Zoom settings."""


cli.add_command(sandbox)


def main() -> None:
    cli()
