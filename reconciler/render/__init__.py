"""Renderers, one module per format behind one protocol; each writes only to the file handle it
is given, never to stdout itself.

Plan renderers take the same keyword options and ignore those meant for other formats, so a
caller can pass e.g. `color=` whatever the format.
"""

from __future__ import annotations

from typing import Protocol, TextIO

from reconciler.plan.model import Plan
from reconciler.render import json, markdown, text


class PlanRenderer(Protocol):
    def __call__(
        self, plan: Plan, fh: TextIO, *, color: bool = ..., changed_since: str | None = ...
    ) -> None: ...


RENDERERS: dict[str, PlanRenderer] = {
    "text": text.render,
    "markdown": markdown.render,
    "json": json.render,
}
PLAN_FORMATS = tuple(RENDERERS)


def render(
    plan: Plan, fh: TextIO, fmt: str, *, color: bool = False, changed_since: str | None = None
) -> None:
    """Write `plan` to `fh` in format `fmt` (a key of RENDERERS)."""
    try:
        renderer = RENDERERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(RENDERERS)}") from None
    renderer(plan, fh, color=color, changed_since=changed_since)
