"""A plan as JSON: the file `apply` takes, checksummed, in plan order (nothing is sorted)."""

from __future__ import annotations

import json
from typing import TextIO

from reconciler.plan.model import Plan


def render(
    plan: Plan,
    fh: TextIO,
    *,
    color: bool = False,
    changed_since: str | None = None,
) -> None:
    del color, changed_since  # for the other formats
    json.dump(plan.to_json(), fh, indent=2, ensure_ascii=False)
    fh.write("\n")
