"""Renderers for a Plan: each writes only to the file handle it is given, never to stdout itself.

Every renderer takes the same options and ignores those meant for other formats, so a caller can
pass e.g. `color=` whatever the format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from reconciler.plan.model import Plan
from reconciler.render import json, markdown, text

Renderer = Callable[..., None]

RENDERERS: dict[str, Renderer] = {
    "text": text.render,
    "markdown": markdown.render,
    "json": json.render,
}


def render(plan: Plan, fh: TextIO, fmt: str, **options: object) -> None:
    """Write `plan` to `fh` in format `fmt` (a key of RENDERERS)."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(RENDERERS)}") from None
    renderer(plan, fh, **options)
