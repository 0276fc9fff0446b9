"""Policy packs: rules in CEL over a target's effective settings (docs/policy-format.md).

    packs = load_named(["zoom-security-baseline", "policies/ours.yaml"], repo=root)
    packs = load_selected(repo_selections(state), repo=state.root)   # as reconciler.yaml says
    engine = Engine(packs)
    results = engine.evaluate(TargetContext("user", email=..., documents=..., locked=...))
    rules = engine.weakening("user", "meeting_security", ("waiting_room",), True, False, context)

The modules: `rules` (models and the strict loader), `packs` (shipped names and repo paths),
`celexpr` (compiling, the fields an expression reads), `engine` (evaluation and weakening),
`conflicts` (enabled rules that no value satisfies together),
`examples` (a pack's examples as tests), `fields` (fields against Zoom's schemas), `cli` (the
`policy` click group).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.policy.engine import Engine, Outcome, RuleResult, TargetContext, diagnostic
    from reconciler.policy.examples import ExampleResult, run_examples
    from reconciler.policy.packs import (
        SHIPPED,
        installed,
        load_named,
        load_selected,
        load_shipped,
        repo_selections,
        selection_for,
    )
    from reconciler.policy.rules import Example, Pack, Rule, load_pack, parse_pack

# Imported on first use: `import cel` takes about 150 ms (celexpr's docstring), and
# `reconciler --help` should not wait for it.
_HOMES = {
    "Engine": "engine",
    "Outcome": "engine",
    "RuleResult": "engine",
    "TargetContext": "engine",
    "diagnostic": "engine",
    "ExampleResult": "examples",
    "run_examples": "examples",
    "SHIPPED": "packs",
    "installed": "packs",
    "load_named": "packs",
    "load_selected": "packs",
    "repo_selections": "packs",
    "selection_for": "packs",
    "load_shipped": "packs",
    "Example": "rules",
    "Pack": "rules",
    "Rule": "rules",
    "load_pack": "rules",
    "parse_pack": "rules",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


__all__ = [
    "SHIPPED",
    "Engine",
    "Example",
    "ExampleResult",
    "Outcome",
    "Pack",
    "Rule",
    "RuleResult",
    "TargetContext",
    "diagnostic",
    "installed",
    "load_named",
    "load_pack",
    "load_selected",
    "load_shipped",
    "parse_pack",
    "repo_selections",
    "run_examples",
    "selection_for",
]
