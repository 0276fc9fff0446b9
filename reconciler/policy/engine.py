"""Evaluating rules over targets, and judging whether a planned change weakens security.

An `Engine` compiles every `expr` and `weakens` of its packs once. Before compiling, each field
path of an `expr` (outside `has()`) is replaced by a variable of its own (`celexpr.rewrite`), and
for each target those variables are bound once, to the fields' values, in one `cel.Context` that
every rule of the target's level runs against. Why: the Rust CEL copies every map that a
selection passes through, so `settings.in_meeting.chat` over the whole document costs about
5 µs, and over a bound value 0.2 µs; converting only the fields the rules read also keeps the
cost of a target independent of the size of Zoom's settings. The family variables stay bound
too, pruned to the fields read inside `has()`, with `locked` and `target`.

A rule whose required fields are missing from the target's documents is not applicable and is
not run; an evaluation error, or a result that is not a bool, is unknown with the error's text.
`weakens` runs as written, over the family variables pruned to what it reads.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import cel

from reconciler.diagnostic import Diagnostic, Severity
from reconciler.diff import MISSING
from reconciler.policy.celexpr import (
    EXPR_VARIABLES,
    FAMILY_VARIABLES,
    LOCKED,
    TARGET,
    Field,
    Occurrence,
    Reads,
    compile_expression,
    occurrences,
    reads,
    rewrite,
)
from reconciler.policy.rules import Pack, Rule
from reconciler.vocab import LEVELS, Family, LeafPath, Level

# A trie of the paths read under one family: None takes the whole subtree.
_Trie = dict[str, "_Trie | None"]


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class TargetContext:
    """One target: who it is, its effective settings and which of them a lock fixes.

    `documents` and `locked` are keyed by family, in the repo's shape (meeting_security without
    Zoom's wrapper, authentication options keyed by name), as plain dicts (JSON); `locked`
    need only hold the true leaves: every other leaf of the documents reads as false.
    """

    level: Level
    id: str = ""
    email: str = ""
    name: str = ""
    groups: tuple[str, ...] = ()
    type: str = ""
    documents: dict[Family, dict[str, Any]] = field(default_factory=dict)
    locked: dict[Family, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    outcome: Outcome
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Slot:
    """One field path, bound per target as a variable of its own (see `celexpr.rewrite`)."""

    name: str
    lock: bool
    family: Family
    path: LeafPath


# The most one evaluation of a rule may take. CEL cannot be stopped once it runs, so a rule that
# took longer is not run again in this process: its later results are UNKNOWN, saying why. The
# text limits (`celexpr.cost_problem`) keep one evaluation well under a second.
EVALUATION_BUDGET = 0.25


@dataclass
class _Spent:
    """The one evaluation of a rule that went over the budget, once there is one, and the
    budget it went over."""

    seconds: float | None = None
    budget: float = 0.0


@dataclass(frozen=True, eq=False)
class _Compiled:
    rule: Rule
    program: cel.Program  # over the rewritten expression
    needs: frozenset[str]  # the slots of the fields it requires
    slots: tuple[_Slot, ...]
    in_has: Reads  # the fields read inside has(): bound in the family variables
    weakens: cel.Program | None  # over the expression as written
    weakens_reads: Reads
    spent: _Spent = field(default_factory=_Spent)


@dataclass(frozen=True, eq=False)
class _LevelPlan:
    """The rules of one level, the slots they read and the fields read inside has()."""

    compiled: tuple[_Compiled, ...]
    slots: tuple[_Slot, ...]
    in_has: tuple[dict[Family, _Trie | None], dict[Family, _Trie | None]]
    # The variables as written that the rewritten programs still use: converting a map into
    # CEL costs about 1.3 µs, so the others are not bound.
    roots: frozenset[str]


class _Slots:
    """One variable name per (lock, field) among every rule of an engine."""

    def __init__(self) -> None:
        self._names: dict[tuple[bool, Field], _Slot] = {}

    def slot(self, occurrence: Occurrence) -> _Slot:
        key = (occurrence.lock, occurrence.field)
        if key not in self._names:
            family, path = occurrence.field
            # `_zr` + a number: no variable of the format starts with an underscore
            self._names[key] = _Slot(f"_zr{len(self._names)}", occurrence.lock, family, path)
        return self._names[key]


class Engine:
    """The rules of some packs, compiled once; evaluate targets and judge changes with them."""

    def __init__(self, packs: Iterable[Pack]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rule for pack in packs for rule in pack.rules)
        slots = _Slots()
        compiled = tuple(_compile(rule, slots) for rule in self.rules)
        self._by_key = {item.rule.key: item for item in compiled}
        self._plans: dict[Level, _LevelPlan] = {}
        for level in LEVELS:
            self._plans[level] = _plan(
                tuple(item for item in compiled if level in item.rule.levels)
            )

    def rules_at(self, level: Level) -> tuple[Rule, ...]:
        return tuple(item.rule for item in self._plans[level].compiled)

    def variables(self, context: TargetContext) -> dict[str, Any]:
        """What the rules of the target's level read, as written: the documents pruned to the
        fields they read, `locked` over the same fields, and `target`."""
        read = Reads()
        for item in self._plans[context.level].compiled:
            read = read | item.rule.reads
        return _roots(context, _tries(read.fields), _tries(read.locks))

    def evaluate(self, context: TargetContext) -> list[RuleResult]:
        """One result for each rule whose `levels` include the target's level."""
        return _evaluate(self._plans[context.level], context)

    def evaluate_rule(self, rule: Rule, context: TargetContext) -> RuleResult:
        """One rule over one target, whatever its levels (for a rule's examples)."""
        return _evaluate(_plan((self._by_key[rule.key],)), context)[0]

    def weakening(
        self,
        level: Level,
        family: Family,
        path: LeafPath,
        before: Any,
        after: Any,
        context: TargetContext,
        *,
        lock: bool = False,
    ) -> list[Rule]:
        """The rules of `level` that read the changed field and whose `weakens` is true.

        `lock`: the change is to the lock of the field (rules that read `locked.<field>`).
        `before` and `after` are the change's values; MISSING (no value) reads as null. A
        `weakens` that cannot be evaluated, or is not a bool, counts as weakening: a rule that
        cannot tell must not let the change through unforced.
        """
        plan = self._plans[level]
        judged = [item for item in plan.compiled if _judges(item, family, path, lock)]
        change = {
            "before": None if before is MISSING else before,
            "after": None if after is MISSING else after,
            "lock": lock,
        }
        return [item.rule for item in judged if _weakens(item, context, change)]


def _compile(rule: Rule, slots: _Slots) -> _Compiled:
    found = occurrences(rule.expr)
    used: dict[str, _Slot] = {}

    def name_of(occurrence: Occurrence) -> str:
        slot = slots.slot(occurrence)
        used[slot.name] = slot
        return slot.name

    program = compile_expression(rewrite(rule.expr, name_of))
    in_has = [occurrence for occurrence in found if occurrence.in_has]
    has_reads = Reads(
        frozenset(o.field for o in in_has if not o.lock),
        frozenset(o.field for o in in_has if o.lock),
    )
    weakens = compile_expression(rule.weakens) if rule.weakens else None
    weakens_reads = reads(rule.weakens) if rule.weakens else Reads()
    slot_tuple = tuple(used.values())
    needs = frozenset(slot.name for slot in slot_tuple)
    return _Compiled(rule, program, needs, slot_tuple, has_reads, weakens, weakens_reads)


def _plan(compiled: tuple[_Compiled, ...]) -> _LevelPlan:
    slots: dict[str, _Slot] = {}
    in_has = Reads()
    roots: set[str] = set()
    for item in compiled:
        slots.update((slot.name, slot) for slot in item.slots)
        in_has = in_has | item.in_has
        roots.update(name for name in item.program.variables() if name in EXPR_VARIABLES)
    tries = (_tries(in_has.fields), _tries(in_has.locks))
    return _LevelPlan(compiled, tuple(slots.values()), tries, frozenset(roots))


def _evaluate(plan: _LevelPlan, context: TargetContext) -> list[RuleResult]:
    values, missing = _slot_values(context, plan.slots)
    if plan.roots:
        roots = _roots(context, *plan.in_has)
        values.update((name, roots[name]) for name in plan.roots)
    try:
        bindings = cel.Context(values)
    except Exception:  # a value CEL cannot take: find the rules it concerns, one by one
        return [_run_alone(item, values, missing) for item in plan.compiled]
    return [_run(item, bindings, missing) for item in plan.compiled]


def _run_alone(item: _Compiled, values: dict[str, Any], missing: set[str]) -> RuleResult:
    if not missing.isdisjoint(item.needs):
        return RuleResult(item.rule, Outcome.NOT_APPLICABLE)
    names = item.program.variables()
    try:
        bindings = cel.Context({name: values[name] for name in names if name in values})
    except Exception as exc:  # this rule reads the value CEL cannot take
        return RuleResult(item.rule, Outcome.UNKNOWN, f"a value CEL cannot take: {exc}")
    return _run(item, bindings, missing)


def _slot_values(
    context: TargetContext, slots: tuple[_Slot, ...]
) -> tuple[dict[str, Any], set[str]]:
    """Each slot's value for this target, and the slots whose field the documents lack."""
    values: dict[str, Any] = {}
    missing: set[str] = set()
    for slot in slots:
        value = _get(context.documents.get(slot.family), slot.path)
        if value is MISSING:
            missing.add(slot.name)
        elif slot.lock:
            values[slot.name] = _lock_value(value, _get(context.locked.get(slot.family), slot.path))
        else:
            values[slot.name] = value
    return values, missing


def _get(document: Any, path: LeafPath) -> Any:
    """The value at `path`, or MISSING; documents are plain dicts (JSON)."""
    if document is None:
        return MISSING
    node = document
    for key in path:
        if not isinstance(node, dict):
            return MISSING
        node = node.get(key, MISSING)
        if node is MISSING:
            return MISSING
    return node


def _lock_value(value: Any, given: Any) -> Any:
    """`locked` at a field: false for each leaf of the document's value, true where given."""
    if not isinstance(value, dict):
        return given is True
    tree = _falses(value)
    _overlay_true(tree, given)
    return tree


def _tries(fields: Iterable[Field]) -> dict[Family, _Trie | None]:
    tries: dict[Family, _Trie | None] = {}
    for family, path in sorted(fields, key=lambda found: len(found[1])):
        if family not in tries:
            tries[family] = {}
        tries[family] = _insert(tries[family], path)
    return tries


def _insert(trie: _Trie | None, path: LeafPath) -> _Trie | None:
    """Add `path`; a shorter path already there (None) covers it."""
    if trie is None or not path:
        return None
    trie[path[0]] = _insert(trie.get(path[0], {}), path[1:])
    return trie


def _prune(value: Any, trie: _Trie | None) -> Any:
    if trie is None or not isinstance(value, Mapping):
        return value
    return {key: _prune(value[key], sub) for key, sub in trie.items() if key in value}


def _roots(
    context: TargetContext, fields: dict[Family, _Trie | None], locks: dict[Family, _Trie | None]
) -> dict[str, Any]:
    """The family variables pruned to `fields`, `locked` over `locks`, and `target`."""
    variables: dict[str, Any] = {}
    locked: dict[str, Any] = {}
    for name, family in FAMILY_VARIABLES.items():
        document = context.documents.get(family, {})
        variables[name] = _prune(document, fields[family]) if family in fields else {}
        locked[name] = _locked(document, context.locked.get(family, {}), locks.get(family))
    variables[LOCKED] = locked
    variables[TARGET] = _target(context)
    return variables


def _locked(document: Mapping[str, Any], given: Mapping[str, Any], trie: _Trie | None) -> Any:
    if trie is None:
        return {}  # no rule reads a lock of this family
    falses = _falses(_prune(document, trie))
    _overlay_true(falses, _prune(given, trie))
    return falses


def _falses(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _falses(item) for key, item in value.items()}
    return False


def _overlay_true(into: dict[str, Any], given: Any) -> None:
    if not isinstance(given, Mapping):
        return
    for key, value in given.items():
        if isinstance(value, Mapping):
            node = into.get(key)
            if not isinstance(node, dict):
                node = into[key] = {}
            _overlay_true(node, value)
        elif value is True:
            into[key] = True


def _target(context: TargetContext) -> dict[str, Any]:
    return {
        "level": context.level,
        "id": context.id,
        "email": context.email,
        "name": context.name,
        "groups": list(context.groups),
        "type": context.type,
    }


def _run(item: _Compiled, bindings: cel.Context, missing: set[str]) -> RuleResult:
    if not missing.isdisjoint(item.needs):
        return RuleResult(item.rule, Outcome.NOT_APPLICABLE)
    if item.spent.seconds is not None:
        return RuleResult(item.rule, Outcome.UNKNOWN, _over_budget(item))
    started = time.perf_counter()
    try:
        value = item.program.execute(bindings)
    except Exception as exc:  # any error of one rule on one target is that result, not a crash
        return RuleResult(item.rule, Outcome.UNKNOWN, _error_text(exc))
    took = time.perf_counter() - started
    if took > EVALUATION_BUDGET:
        item.spent.seconds, item.spent.budget = took, EVALUATION_BUDGET
        return RuleResult(item.rule, Outcome.UNKNOWN, _over_budget(item))
    if value is True:
        return RuleResult(item.rule, Outcome.PASS)
    if value is False:
        return RuleResult(item.rule, Outcome.FAIL)
    return RuleResult(item.rule, Outcome.UNKNOWN, f"expr gave {value!r}, not true or false")


def _over_budget(item: _Compiled) -> str:
    rule = item.rule
    return (
        f"not judged: one evaluation of {rule.code} ({rule.file}:{rule.expr_line}) "
        f"took {item.spent.seconds:.2f} s, over the {item.spent.budget:g} s budget; "
        "simplify its expr"
    )


def _error_text(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _judges(item: _Compiled, family: Family, path: LeafPath, lock: bool) -> bool:
    if item.weakens is None:
        return False
    read = item.rule.reads.locks if lock else item.rule.reads.fields
    return any(found == family and _overlaps(found_path, path) for found, found_path in read)


def _overlaps(left: LeafPath, right: LeafPath) -> bool:
    shorter = min(len(left), len(right))
    return left[:shorter] == right[:shorter]


def _weakens(item: _Compiled, context: TargetContext, change: dict[str, Any]) -> bool:
    assert item.weakens is not None
    read = item.weakens_reads
    variables = {**_roots(context, _tries(read.fields), _tries(read.locks)), **change}
    try:
        return item.weakens.execute(variables) is not False
    except Exception:  # cannot tell: fail closed, the change needs --force
        return True


_SEVERITY = {
    "critical": Severity.ERROR,
    "high": Severity.ERROR,
    "medium": Severity.WARNING,
    "low": Severity.NOTE,
}


def diagnostic(result: RuleResult, target: str) -> Diagnostic | None:
    """A failing or unknown result as a Diagnostic at the rule's file:line (None otherwise).

    `target` names it: "user alice@acme.test", "group Engineering", "account".
    """
    rule = result.rule
    if result.outcome is Outcome.FAIL:
        message = f"{rule.id}: {rule.title}: fails ({rule.rationale})"
        severity = _SEVERITY[rule.severity]
    elif result.outcome is Outcome.UNKNOWN:
        message = f"{rule.id}: {rule.title}: could not be evaluated: {result.error}"
        severity = Severity.WARNING
    else:
        return None
    code = rule.code
    return Diagnostic(code, severity, message, None, rule.file, rule.line, None, target)
