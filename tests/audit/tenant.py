"""A seeded 500-user sandbox tenant and a settings repo that manages some of it, with the answer
key computed from the tenant itself (the sandbox's own resolver of effective values), not from
the audit: which managed fields drift, which targets break which rule, which reads fail."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.sandbox import generate_tenant
from reconciler.sandbox.effective import Resolver
from reconciler.sandbox.tenant import Tenant
from reconciler.shapes import repo_shape
from tests.plan.sandbox_repo import prepare_sandbox

USERS, GROUPS, SEED = 500, 4, 7
PACK = """\
pack: audit-test
title: Audit test pack
rules:
  - id: waiting-room
    title: The waiting room stays on
    severity: high
    rationale: Strangers stay out of meetings.
    levels: [account, group, user]
    expr: meeting_security.waiting_room == true
  - id: no-file-transfer
    title: No file transfer in meetings
    severity: medium
    rationale: Files bypass the mail filters.
    levels: [user]
    expr: settings.in_meeting.file_transfer == false
"""
RULES = ("audit-test/waiting-room", "audit-test/no-file-transfer")
RULE_FIELDS = {
    "audit-test/waiting-room": ("meeting_security", ("waiting_room",)),
    "audit-test/no-file-transfer": ("general", ("in_meeting", "file_transfer")),
}
KEY = {"general": "settings", "meeting_security": "meeting_security"}


@dataclass
class Expected:
    """(target label, field label) of every drifted managed field; (rule, target label) of
    every failing rule; the labels of the targets whose reads fail."""

    drift: set[tuple[str, str]] = field(default_factory=set)
    failing: set[tuple[str, str]] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)
    unknown_ids: list[str] = field(default_factory=list)
    targets: int = 0


def _yaml_value(value: Any) -> str:
    return "true" if value is True else "false" if value is False else repr(value)


def _settings(resolver: Resolver, level: str, holder: Any, family: Any) -> dict[str, Any]:
    if level == "account":
        return repo_shape(family, resolver.account_settings(family))
    if level == "group":
        return repo_shape(family, resolver.group_settings(holder, family))
    return repo_shape(family, resolver.user_settings(holder, family))


def _lookup(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        document = document.get(key, {}) if isinstance(document, dict) else {}
    return document if document != {} else None


async def seeded_repo(repo: Path, unreadable: int = 3) -> tuple[Tenant, Expected]:
    """Write the repo, start its sandbox on the tenant, and return the answer key."""
    tenant = generate_tenant(users=USERS, groups=GROUPS, seed=SEED)
    for holder in [tenant.account, *tenant.groups.values()]:
        holder.locks = {}  # locks are judged elsewhere; here the answer key stays simple
    resolver = Resolver(tenant)
    expected = Expected()
    active = sorted((u for u in tenant.users if u.status == "active"), key=lambda u: u.email)
    group = sorted(tenant.groups.values(), key=lambda g: g.name)[0]
    (repo / "policies").mkdir(parents=True)
    (repo / "users").mkdir()
    (repo / "groups").mkdir()
    (repo / "policies" / "audit-test.yaml").write_text(PACK)
    (repo / "reconciler.yaml").write_text("policies: [policies/audit-test.yaml]\n")
    # The account: asks for the waiting room on; drift exactly when Zoom has it off.
    live = _settings(resolver, "account", None, "meeting_security")["waiting_room"]
    (repo / "account.yaml").write_text("meeting_security:\n  waiting_room: true\n")
    if live is not True:
        expected.drift.add(("account", "meeting_security.waiting_room"))
    # One group: asks for chat off.
    chat = _settings(resolver, "group", group, "general")["in_meeting"]["chat"]
    (repo / "groups" / f"{group.name}.yaml").write_text(
        f"group: {group.name}\nsettings:\n  in_meeting:\n    chat: false\n"
    )
    if chat is not False:
        expected.drift.add((f"group {group.name}", "settings.in_meeting.chat"))
    # 20 users: each asks for chat as Zoom has it for half of them, the other value for the rest.
    for index, user in enumerate(active[:20]):
        chat = _settings(resolver, "user", user, "general")["in_meeting"]["chat"]
        wanted = chat if index % 2 else not chat
        (repo / "users" / f"{user.email}.yaml").write_text(
            f"settings:\n  in_meeting:\n    chat: {_yaml_value(wanted)}\n"
        )
        if wanted != chat:
            expected.drift.add((f"user {user.email}", "settings.in_meeting.chat"))
    failing_users = active[100 : 100 + unreadable]
    expected.unknown = {f"user {user.email}" for user in failing_users}
    expected.unknown_ids = [user.id for user in failing_users]
    expected.drift = {item for item in expected.drift if item[0] not in expected.unknown}
    targets: list[tuple[str, Any, str]] = [("account", None, "account")]
    targets += [("group", g, f"group {g.name}") for g in tenant.groups.values()]
    targets += [("user", u, f"user {u.email}") for u in active]
    expected.targets = len(targets)
    for level, holder, label in targets:
        if label in expected.unknown:
            continue
        for rule, (family, path) in RULE_FIELDS.items():
            if rule.endswith("no-file-transfer") and level != "user":
                continue
            value = _lookup(_settings(resolver, level, holder, family), path)
            wanted = rule.endswith("waiting-room")
            if value is not None and value is not wanted:
                expected.failing.add((rule, label))
    await prepare_sandbox(repo, tenant=tenant)
    return tenant, expected


def unreadable_rules(expected: Expected) -> list[dict[str, Any]]:
    """The failing_reads rules: Zoom answers the users' meeting_security read with a 404."""
    return [
        {
            "path": f"/v2/users/{user_id}/settings",
            "query": {"option": "meeting_security"},
            "status": 404,
            "body": {"code": 1001, "message": "User does not exist."},
        }
        for user_id in expected.unknown_ids
    ]
