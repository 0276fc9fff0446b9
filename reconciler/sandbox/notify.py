"""From a stored write to the event Zoom would send about it (settings, locks, membership).

A handler reads the operator and the GET document before it writes (`before_settings`,
`before_locks`), then hands both, with what the write stored, to `announce_*`. Nothing here runs
when webhooks are off, so the API pays nothing for them then.

Zoom does not say whether a PATCH that sets a value to what it already was sends an event; the
sandbox sends one for every accepted write that stored at least one key (its own PATCHes
included), and none for a write that stored nothing (an empty body, or only locked keys under
the "ignore" policy).
"""

from __future__ import annotations

import copy
from typing import Any

from reconciler.sandbox.effective import auth_leaf
from reconciler.sandbox.patching import Target, Written
from reconciler.sandbox.runtime import Sandbox
from reconciler.sandbox.shapes import Flat
from reconciler.sandbox.tenant import Group, User
from reconciler.sandbox.webhook_events import (
    Operator,
    SettingsLevel,
    members_event,
    settings_event,
    value_at,
)
from reconciler.vocab import Family, LockFamily


def settings_document(sandbox: Sandbox, target: Target, family: Family) -> dict[str, Any]:
    """What GET shows at `target` for `family`."""
    if target.user is not None:
        return sandbox.resolver.user_settings(target.user, family)
    if target.group is not None:
        return sandbox.resolver.group_settings(target.group, family)
    return sandbox.resolver.account_settings(family)


def before_settings(sandbox: Sandbox, target: Target, family: Family) -> dict[str, Any] | None:
    """The GET document before a write (None when webhooks are off). Not copied: a write
    replaces stored values and drops the resolver's cache, it never changes a built document."""
    if not sandbox.webhooks.enabled:
        return None
    return settings_document(sandbox, target, family)


def before_locks(
    sandbox: Sandbox, group: Group | None, family: LockFamily
) -> dict[str, Any] | None:
    if not sandbox.webhooks.enabled:
        return None
    return sandbox.resolver.lock_document(group, family)


def announce_settings(
    sandbox: Sandbox,
    target: Target,
    family: Family,
    written: Written,
    before: dict[str, Any] | None,
    operator: Operator,
) -> None:
    if before is None or not written:
        return
    changed = dict(written.values)
    leaf = auth_leaf(target.level, family) if written.auth_options else None
    if leaf is not None:
        _, options = value_at(settings_document(sandbox, target, family), leaf)
        changed[leaf] = options
    owner = target.user or target.group
    object_id = owner.id if owner is not None else sandbox.tenant.account.id
    _emit(sandbox, target.level, False, object_id, changed, before, operator)


def announce_locks(
    sandbox: Sandbox,
    group: Group | None,
    written: Written,
    before: dict[str, Any] | None,
    operator: Operator,
) -> None:
    if before is None or not written:
        return
    level: SettingsLevel = "account" if group is None else "group"
    object_id = group.id if group is not None else sandbox.tenant.account.id
    _emit(sandbox, level, True, object_id, dict(written.values), before, operator)


def announce_members(
    sandbox: Sandbox, name: str, group: Group, users: list[User], operator: Operator
) -> None:
    """`group.member_added` or `group.member_deleted` for the users whose membership changed."""
    if not users or not sandbox.webhooks.enabled:
        return
    event = members_event(
        name,
        account_id=sandbox.tenant.account.id,
        operator=operator,
        group_id=group.id,
        members=[(user.id, user.email) for user in users],
        at_ms=int(sandbox.clock() * 1000),
    )
    sandbox.webhooks.emit(event, key=f"group:{group.id}")


def _emit(
    sandbox: Sandbox,
    level: SettingsLevel,
    locks: bool,
    object_id: str,
    changed: Flat,
    before: dict[str, Any],
    operator: Operator,
) -> None:
    previous: Flat = {}
    for path in changed:
        found, value = value_at(before, path)
        if found:
            previous[path] = copy.deepcopy(value)
    event = settings_event(
        level,
        locks=locks,
        account_id=sandbox.tenant.account.id,
        operator=operator,
        object_id=object_id,
        changed=copy.deepcopy(changed),
        previous=previous,
        at_ms=int(sandbox.clock() * 1000),
    )
    sandbox.webhooks.emit(event, key=f"{level}:{object_id}")
