"""A tenant seeded for the packs: the account keeps the waiting room on but does not lock it, a
group turns it off, some users override it either way. The packs flag exactly the account, group
and users that break a rule, and none of the compliant ones."""

from __future__ import annotations

from typing import Any

from reconciler.policy import Engine, Outcome, TargetContext, load_shipped
from reconciler.sandbox import generate_tenant
from reconciler.sandbox.effective import Resolver
from reconciler.sandbox.tenant import Tenant
from reconciler.shapes import repo_shape
from reconciler.vocab import FAMILIES, Family

WAITING_ROOM = ("meeting_security", "waiting_room")


def seeded() -> tuple[Tenant, set[str]]:
    """The tenant, and the emails of the users whose effective waiting room is off."""
    tenant = generate_tenant(users=12, groups=2, seed=11)
    for holder in [tenant.account, *tenant.groups.values()]:
        holder.locks = {}
    tenant.account.settings.family("meeting_security")[WAITING_ROOM] = True
    off, on = list(tenant.groups.values())
    off.settings.family("meeting_security")[WAITING_ROOM] = False
    on.settings.family("meeting_security").pop(WAITING_ROOM, None)
    for user in tenant.users:
        user.settings.family("meeting_security").pop(WAITING_ROOM, None)
    active = [user for user in tenant.users if user.status == "active"]
    active[0].settings.family("meeting_security")[WAITING_ROOM] = False  # turns it off
    active[1].settings.family("meeting_security")[WAITING_ROOM] = True  # keeps it in any group
    resolver = Resolver(tenant)
    breaking = {
        user.email
        for user in active
        if repo_shape("meeting_security", resolver.user_settings(user, "meeting_security"))[
            "waiting_room"
        ]
        is False
    }
    return tenant, breaking


def _context(resolver: Resolver, level: Any, holder: Any, name: str) -> TargetContext:
    documents: dict[Family, dict[str, Any]] = {}
    for family in FAMILIES:
        if level == "account":
            raw = resolver.account_settings(family)
        elif level == "group":
            raw = resolver.group_settings(holder, family)
        else:
            raw = resolver.user_settings(holder, family)
        documents[family] = repo_shape(family, raw)
    return TargetContext(level, name=name, email=name, documents=documents)


def failing(engine: Engine, tenant: Tenant, rule_id: str) -> set[str]:
    resolver = Resolver(tenant)
    targets = [("account", None, "account")]
    targets += [("group", group, group.name) for group in tenant.groups.values()]
    targets += [("user", user, user.email) for user in tenant.users if user.status == "active"]
    found = set()
    for level, holder, name in targets:
        context = _context(resolver, level, holder, name)
        for result in engine.evaluate(context):
            if result.rule.id == rule_id and result.outcome is Outcome.FAIL:
                found.add(name)
    return found


def test_the_baseline_flags_exactly_the_targets_that_break_it() -> None:
    tenant, breaking = seeded()
    engine = Engine([load_shipped("zoom-security-baseline")])
    off_group = next(iter(tenant.groups.values())).name
    assert failing(engine, tenant, "zsb-waiting-room") == {off_group}
    assert failing(engine, tenant, "zsb-user-keeps-waiting-room") == breaking
    assert len(breaking) >= 2  # the group's inheriting members and the user who turned it off
    # Nothing at the account is locked: the lobby rule (waiting room or passcode locked) fails.
    assert failing(engine, tenant, "zsb-lobby-locked") == {"account"}
