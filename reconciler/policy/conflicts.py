"""Enabled rules that no value can satisfy together: each one's remedy fails the other.

Two rules are compared where they could clash: at a level both list, on a field both read that
both remedies set. For the pair (A, B) at that level, A's remedy is laid over a document in
which B's fields exist (B's first pass example, with B's remedy over it) and judged by B's
`expr`; then the other way round. When A's remedy fails B and B's remedy fails A, no value of
the field passes both: a conflict. A remedy that only raises a bar (a passcode of 10 where the
other asks for 8) passes the other rule, so it is no conflict. Every leaf is judged locked: a
remedy is applied with its locks, and the question is whether the values can agree.

Rules without a remedy are not compared (there is no value to judge), nor are rules that are
not applicable over the documents built (a field neither remedy nor example gives).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from reconciler.desired.state import deep_merged, leaves
from reconciler.policy.celexpr import FAMILY_VARIABLES, VARIABLE_OF, Field
from reconciler.policy.engine import Engine, Outcome, TargetContext
from reconciler.policy.rules import Example, Rule
from reconciler.vocab import LEVELS, Family, LeafPath, Level

_Documents = dict[Family, dict[str, Any]]
_LOCKS = "locks"


@dataclass(frozen=True)
class Conflict:
    """Two enabled rules (in the engine's order: `later` comes after `first`) that no value of
    `field` satisfies together at `levels`."""

    first: Rule
    later: Rule
    field: Field
    levels: tuple[Level, ...]

    @property
    def dotted_field(self) -> str:
        family, path = self.field
        return ".".join((VARIABLE_OF[family], *path))


def find_conflicts(engine: Engine) -> list[Conflict]:
    """Every pair of the engine's rules that cannot both pass, once per pair."""
    order = {rule.key: number for number, rule in enumerate(engine.rules)}
    found: dict[tuple[Rule, Rule], Conflict] = {}
    for level in LEVELS:
        judged: set[tuple[Rule, Rule]] = set()
        for field, rules in sorted(_by_field(engine.rules_at(level)).items()):
            for a, b in combinations(sorted(rules, key=lambda r: order[r.key]), 2):
                if (a, b) not in judged:
                    judged.add((a, b))
                    if _clash(engine, a, b, level):
                        _add(found, Conflict(a, b, field, (level,)))
    return sorted(found.values(), key=lambda c: (order[c.later.key], order[c.first.key]))


def _add(found: dict[tuple[Rule, Rule], Conflict], conflict: Conflict) -> None:
    pair = (conflict.first, conflict.later)
    earlier = found.get(pair)
    if earlier is None:
        found[pair] = conflict
    elif earlier.field == conflict.field:
        found[pair] = Conflict(*pair, earlier.field, (*earlier.levels, *conflict.levels))


def _by_field(rules: Iterable[Rule]) -> dict[Field, list[Rule]]:
    """The rules by each field that the rule reads and its remedy sets."""
    found: dict[Field, list[Rule]] = {}
    for rule in rules:
        for field in _remedied_reads(rule):
            found.setdefault(field, []).append(rule)
    return found


def _remedied_reads(rule: Rule) -> set[Field]:
    fields = set()
    for family, document in remedy_documents(rule).items():
        for path, _value in leaves(document):
            if any(_overlap(path, read) for fam, read in rule.reads.fields if fam == family):
                fields.add((family, path))
    return fields


def _overlap(path: LeafPath, read: LeafPath) -> bool:
    shorter = min(len(path), len(read))
    return path[:shorter] == read[:shorter]


def remedy_documents(rule: Rule) -> _Documents:
    """The rule's remedy as documents by family (without its locks)."""
    remedy = rule.remedy or {}
    return {FAMILY_VARIABLES[key]: value for key, value in remedy.items() if key != _LOCKS}


def _clash(engine: Engine, a: Rule, b: Rule, level: Level) -> bool:
    return _fails(engine, b, a, level) and _fails(engine, a, b, level)


def _fails(engine: Engine, judge: Rule, remedied: Rule, level: Level) -> bool:
    """Whether `remedied`'s remedy, over a document where `judge`'s fields exist, fails it."""
    example = _pass_example(judge, level)
    documents = _overlaid(
        example.documents if example else {},
        remedy_documents(judge),
        remedy_documents(remedied),
    )
    target = example.target if example and example.level == level else {}
    context = TargetContext(
        level,
        id=str(target.get("id", "")),
        email=str(target.get("email", "")),
        name=str(target.get("name", "")),
        groups=tuple(target.get("groups", ())),
        type=str(target.get("type", "")),
        documents=documents,
        locked=_all_locked(documents),
    )
    return engine.evaluate_rule(judge, context).outcome is Outcome.FAIL


def _pass_example(rule: Rule, level: Level) -> Example | None:
    passing = [example for example in rule.examples if example.kind == "pass"]
    at_level = [example for example in passing if example.level == level]
    found = at_level or passing
    return found[0] if found else None


def _overlaid(*layers: Mapping[Family, Mapping[str, Any]]) -> _Documents:
    merged: _Documents = {}
    for layer in layers:
        for family, document in layer.items():
            merged[family] = deep_merged(merged.get(family, {}), document)
    return merged


def _all_locked(documents: _Documents) -> _Documents:
    return {family: _trues(document) for family, document in documents.items()}


def _trues(document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _trues(value) if isinstance(value, Mapping) else True
        for key, value in document.items()
    }
