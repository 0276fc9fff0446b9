"""What plan and audit both need to judge a target by the rules, with nothing of either: which
leaves of a target's documents a lock fixes (given as a test, so the lock views stay in `live/`),
and where the repo sets the first field a rule reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.desired.state import Settings, Source, leaves, nest
from reconciler.policy.rules import Rule
from reconciler.vocab import Family, LeafPath

# Whether a lock fixes one leaf of one family (live/locks.py makes these from lock views).
LockTest = Callable[[Family, LeafPath], bool]


def locked_flags(
    documents: Mapping[Family, Mapping[str, Any]], fixed: LockTest
) -> dict[Family, dict[str, Any]]:
    """True for every leaf of the documents that `fixed` says a lock fixes, nested by family:
    the `locked` documents of a `TargetContext`."""
    found: dict[Family, dict[LeafPath, bool]] = {}
    for family, document in documents.items():
        for path, _value in leaves(document):
            if fixed(family, path):
                found.setdefault(family, {})[path] = True
    return {family: nest(paths) for family, paths in found.items()}


def setting_source(rule: Rule, settings: Settings) -> Source | None:
    """Where the settings set the first field the rule reads (or a leaf below it)."""
    for family, path in sorted(rule.reads.fields):
        wanted = ".".join(path)
        for dotted_path, source in settings.sources.get(family, {}).items():
            if dotted_path == wanted or dotted_path.startswith(wanted + "."):
                return source
    return None
