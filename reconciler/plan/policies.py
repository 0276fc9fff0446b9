"""The repo's policy packs in validate and plan: which rules the desired and the planned state of
each target break, where the value that breaks them is set, and which changes weaken security.

`validate` also names pairs of enabled rules that no value satisfies together (`conflicts`).

`validate` is offline: it judges what the repo asks for (the account, each group, each user
file with the all-users defaults, each group's `members:` profile with the defaults), so only
rules over fields the repo sets apply. `plan` judges the targets it reads, before (Zoom now) and
after (Zoom with the plan's changes), so a finding is introduced, fixed or left by the plan.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.desired.layering import effective_user_settings
from reconciler.desired.problems import Spot, problem
from reconciler.desired.selection import OPTIONS_FILE, Selection
from reconciler.desired.state import DesiredState, Settings, leaves, nest
from reconciler.diagnostic import Diagnostic, Severity
from reconciler.errors import ConfigError
from reconciler.live.locks import locked_leaf
from reconciler.plan.model import Change, Finding, FindingState, Plan, Status, Weakening
from reconciler.policy import Engine, Outcome, Rule, TargetContext, load_selected, repo_selections
from reconciler.policy.conflicts import Conflict, find_conflicts
from reconciler.policy.judging import setting_source
from reconciler.policy.packs import pack_name
from reconciler.targets import TargetRef
from reconciler.vocab import Family, LeafPath, Level, lock_family_of

_SEVERITY = {
    "critical": Severity.ERROR,
    "high": Severity.ERROR,
    "medium": Severity.WARNING,
    "low": Severity.NOTE,
}


def engine_for(state: DesiredState) -> Engine | None:
    """The engine of the rules `reconciler.yaml` enables; None when it enables no pack."""
    selections = repo_selections(state)
    return Engine(load_selected(selections, repo=state.root)) if selections else None


# -- validate: the desired state ------------------------------------------------------------------


@dataclass(frozen=True)
class _Desired:
    label: str
    level: Level
    settings: Settings
    locks: Settings | None
    name: str = ""
    email: str = ""


def desired_violations(state: DesiredState, engine: Engine) -> list[Diagnostic]:
    """Every rule the repo's desired settings break, at the file:line that sets the value (for a
    user, the layer that wins)."""
    found: list[Diagnostic] = []
    for target in _desired_targets(state):
        context = TargetContext(
            target.level,
            email=target.email,
            name=target.name,
            documents=target.settings.values,
            locked=_locked_by(target.locks, state),
        )
        for result in engine.evaluate(context):
            if result.outcome is Outcome.FAIL:
                found.append(_violation(result.rule, target))
    return sorted(found, key=lambda d: (d.file or "", d.line or 0, d.code))


def _desired_targets(state: DesiredState) -> Iterable[_Desired]:
    if state.account:
        yield _Desired("account", "account", state.account.settings, state.account.locks)
    for name, group in state.groups.items():
        yield _Desired(f"group {name}", "group", group.settings, group.locks, name=name)
        if group.members:
            members = effective_user_settings(state, "", (name,))
            yield _Desired(f"members of group {name}", "user", members, None, name=name)
    for email in state.users:
        settings = effective_user_settings(state, email, ())
        yield _Desired(f"user {email}", "user", settings, None, email=email)


def _locked_by(own: Settings | None, state: DesiredState) -> dict[Family, dict[str, Any]]:
    """The leaves the repo's account locks (and a group's own locks) fix, by settings family."""
    by_family: dict[Family, dict[LeafPath, bool]] = {}
    layers = [state.account.locks if state.account else None, own]
    for locks in (layer for layer in layers if layer is not None):
        for lock_family in locks.families:
            for path, value in locks.flat(lock_family).items():
                if value is True:
                    family, leaf = locked_leaf(lock_family_of(lock_family), path)
                    by_family.setdefault(family, {})[leaf] = True
    return {family: nest(paths) for family, paths in by_family.items()}


def _violation(rule: Rule, target: _Desired) -> Diagnostic:
    file, line, col = _where_set(rule, target.settings)
    message = f"{target.label}: {rule.id} ({rule.title}) fails: {rule.rationale}"
    hint = f"rule {rule.code} at {rule.file}:{rule.line}"
    return Diagnostic(
        rule.code, _SEVERITY[rule.severity], message, hint, file, line, col, target.label
    )


def _where_set(rule: Rule, settings: Settings) -> tuple[str | None, int | None, int | None]:
    """The source of the first field the rule reads that the settings set, else the rule's."""
    source = setting_source(rule, settings)
    if source is None:
        return rule.file, rule.line, None
    return source.file, source.line, source.col


# -- plan: before and after -----------------------------------------------------------------------


def judge_target(
    engine: Engine,
    context: TargetContext,
    after: Mapping[Family, Mapping[str, Any]],
    ref: TargetRef,
    after_locked: dict[Family, dict[str, Any]] | None = None,
) -> list[Finding]:
    """The findings of one target: its live documents and locks (`context`) against the
    planned ones (`after`, and `after_locked` when the plan changes locks over it)."""
    before_results = {r.rule.key: r.outcome for r in engine.evaluate(context)}
    planned = dataclasses.replace(
        context,
        documents={f: dict(d) for f, d in after.items()},
        locked=context.locked if after_locked is None else after_locked,
    )
    findings = []
    for result in engine.evaluate(planned):
        state = _state(before_results.get(result.rule.key), result.outcome)
        if state is not None:
            rule = result.rule
            findings.append(Finding(ref, rule.code, rule.title, rule.severity, state))
    return findings


def _state(before: Outcome | None, after: Outcome) -> FindingState | None:
    if after is Outcome.UNKNOWN:
        return FindingState.UNKNOWN
    if after is Outcome.FAIL:
        return FindingState.LEFT if before is Outcome.FAIL else FindingState.INTRODUCED
    if before is Outcome.FAIL:
        return FindingState.FIXED
    return None


def with_changes(
    documents: Mapping[Family, Mapping[str, Any]], changes: Iterable[Change]
) -> dict[Family, dict[str, Any]]:
    """The documents as they will be once the pending settings changes are made."""
    after = {family: dict(leaves(document)) for family, document in documents.items()}
    for change in changes:
        if change.status is Status.PENDING and not change.locks and change.family in after:
            after[change.family][change.path] = change.after
    return {family: nest(flat) for family, flat in after.items()}


def weakening_changes(plan: Plan, engine: Engine) -> list[Weakening]:
    """The plan's pending changes that a rule of the engine marks as weakening security."""
    found = []
    for change in plan.pending:
        level = change.target.kind
        context = TargetContext(
            level,
            change.target.id,
            change.target.email or "",
            change.target.name or "",
        )
        rules = engine.weakening(
            level, change.family, change.path, change.before, change.after, context,
            lock=change.locks,
        )  # fmt: skip
        if rules:
            found.append(Weakening(change, tuple(rule.code for rule in rules)))
    return found


# -- validate: rules that cannot both pass --------------------------------------------------------


def conflict_problems(state: DesiredState, engine: Engine) -> list[ConfigError]:
    """One problem for each pair of enabled rules that no value satisfies together, at the
    `policies:` entry that enables the later rule, with how to drop one of them."""
    by_pack = {pack_name(selection.pack): selection for selection in repo_selections(state)}
    return [_conflict_problem(conflict, by_pack) for conflict in find_conflicts(engine)]


def _conflict_problem(conflict: Conflict, by_pack: Mapping[str, Selection]) -> ConfigError:
    first, later = conflict.first, conflict.later
    message = (
        f"{first.code} and {later.code} cannot both pass: each one's remedy of "
        f"{conflict.dotted_field} fails the other (at {', '.join(conflict.levels)} level)"
    )
    drop = [f"{_entry_name(by_pack, r)} as {_except_form(by_pack, r)}" for r in (later, first)]
    hint = f"drop one: enable {drop[0]}, or {drop[1]}"
    selection = by_pack.get(later.pack)
    source = selection.source() if selection else None
    if selection is None or source is None:
        return ConfigError(message, hint=hint)
    return problem(OPTIONS_FILE, Spot(source.line, source.col), selection.key_path(), message, hint)


def _entry_name(by_pack: Mapping[str, Selection], rule: Rule) -> str:
    selection = by_pack.get(rule.pack)
    return selection.pack if selection else rule.pack


def _except_form(by_pack: Mapping[str, Selection], rule: Rule) -> str:
    """The mapping form of the rule's entry with the rule excepted."""
    selection = by_pack.get(rule.pack)
    parts = [f"pack: {_entry_name(by_pack, rule)}"]
    if selection and selection.profile is not None:
        parts.append(f"profile: {selection.profile}")
    excluded = [*(selection.excluded if selection else ()), rule.id]
    parts.append(f"except: [{', '.join(excluded)}]")
    if selection and selection.severities:
        parts.append(f"severity: [{', '.join(selection.severities)}]")
    return "{" + ", ".join(parts) + "}"
