"""`reconciler sandbox ...` commands."""

from __future__ import annotations

import click


@click.group()
def sandbox() -> None:
    """Run the built-in Zoom API sandbox."""
