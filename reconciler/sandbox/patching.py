"""PATCH semantics: validate against the derived PATCH schema, drop GET-only fields, honour locks.

Every check runs before anything is stored, so a rejected PATCH changes nothing.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import jsonschema
from jsonschema.exceptions import ValidationError, best_match

from reconciler.sandbox import authopts
from reconciler.sandbox.effective import Owner, Resolver
from reconciler.sandbox.levels import readable
from reconciler.sandbox.responses import ZoomError, invalid_field
from reconciler.sandbox.shapes import (
    Flat,
    Path,
    Shape,
    dotted,
    flatten,
    lock_shape,
    settings_shape,
)
from reconciler.sandbox.tenant import AUTH_FAMILIES, AuthChoice, Group, Tenant, User
from reconciler.schemas import zoom_lock_schema, zoom_settings_schema
from reconciler.vocab import Family, Level, LockFamily

LockedPatch = Literal["ignore", "error"]

# Features only licensed users may turn on (Zoom codes from the PATCH user settings spec).
_LICENSED_ONLY: dict[Path, tuple[int, str]] = {
    ("feature", "large_meeting"): (
        1108,
        "Only Licensed or On-prem users can enable the large meeting feature.",
    ),
    ("feature", "webinar"): (
        1122,
        "Webinar feature can only be enabled for Licensed or On-prem users.",
    ),
    ("feature", "zoom_events"): (
        1206,
        "You can only enable the Zoom Events feature for Licensed or On-prem users.",
    ),
}
_BASIC = 1


@dataclass(frozen=True)
class Target:
    """Whose settings a PATCH writes: the account (both None), a group, or a user."""

    level: Level
    group: Group | None = None
    user: User | None = None


@dataclass(frozen=True)
class Written:
    """What one PATCH stored: leaf values, and whether it changed authentication options."""

    values: Flat
    auth_options: bool = False

    def __bool__(self) -> bool:
        return bool(self.values) or self.auth_options


@cache
def _validator(kind: str, level: str, family: str) -> Any:
    if kind == "lock":
        schema = zoom_lock_schema(level, family, "patch")  # type: ignore[arg-type]
    else:
        schema = zoom_settings_schema(level, family, "patch")  # type: ignore[arg-type]
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def strip_get_only(
    body: Mapping[str, Any], get: Shape, patch: Shape, path: Path = ()
) -> dict[str, Any]:
    """`body` without the fields that the GET shape has and the PATCH shape lacks."""
    out: dict[str, Any] = {}
    for key, value in body.items():
        here = (*path, key)
        if get.knows(here) and not patch.knows(here):
            continue
        nested = here in patch.containers and isinstance(value, Mapping)
        out[key] = strip_get_only(value, get, patch, here) if nested else value
    return out


def _error_field(error: ValidationError) -> str:
    path = [str(part) for part in error.absolute_path]
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
        extra = sorted(key for key in error.instance if key not in known)
        path += extra[:1]
    return dotted(path) or "(body)"


def validate(validator: Any, body: Mapping[str, Any]) -> None:
    error = best_match(validator.iter_errors(body))
    if error is not None:
        raise invalid_field(_error_field(error), error.message)


def _check_licence(target: Target, flat: Flat) -> None:
    if target.user is None or target.user.type != _BASIC:
        return
    for path, (code, message) in _LICENSED_ONLY.items():
        if flat.get(path) is True:
            raise ZoomError(400, code, message)


def _lock_message(path: Path, owner: Owner, tenant: Tenant) -> str:
    kind, owner_id = owner
    if kind == "group":
        group = tenant.group(owner_id)
        who = f"group {group.name if group else owner_id} ({owner_id})"
    else:
        who = f"account {owner_id}"
    return f"Setting {dotted(path)} is locked by the {who} and cannot be changed."


def _unlocked(
    resolver: Resolver, target: Target, family: str, flat: Flat, policy: LockedPatch
) -> Flat:
    if target.level == "account":
        return flat
    kept: Flat = {}
    for path, value in flat.items():
        owner = resolver.lock_owner(target.user, target.group, family, path)
        if owner is None:
            kept[path] = value
        elif policy == "error":
            raise ZoomError(400, 300, _lock_message(path, owner, resolver.tenant))
    return kept


def _new_option_id(tenant: Tenant, family: str, options: list[dict[str, Any]]) -> str:
    taken = {option["id"] for option in options}
    counter = len(options)
    while True:
        digest = hashlib.sha256(f"{tenant.account.id}/{family}/{counter}".encode()).digest()
        candidate = base64.urlsafe_b64encode(digest)[:22].decode()
        if candidate not in taken:
            return candidate
        counter += 1


def _auth_change(
    tenant: Tenant, target: Target, family: str, action: Mapping[str, Any]
) -> tuple[list[dict[str, Any]] | None, AuthChoice | None]:
    """The new options list (account) or choice (group/user); nothing is stored yet."""
    options = tenant.account.auth_options.get(family, [])
    try:
        if target.level == "account":
            changed = copy.deepcopy(options)
            authopts.apply_account_action(
                changed, action, lambda: _new_option_id(tenant, family, changed)
            )
            return changed, None
        owner = target.user or target.group
        assert owner is not None
        choice = copy.deepcopy(owner.settings.auth.get(family) or AuthChoice())
        authopts.apply_member_action(options, choice, action)
        return None, choice
    except authopts.AuthActionError as exc:
        raise invalid_field(exc.field, str(exc)) from exc


def patch_settings(
    resolver: Resolver,
    target: Target,
    family: Family,
    body: Mapping[str, Any],
    policy: LockedPatch,
) -> Written:
    """Store what `body` sets at `target`; returns what was stored (for the webhook event)."""
    get, patch = (
        settings_shape(target.level, family, "get"),
        settings_shape(target.level, family, "patch"),
    )
    body = strip_get_only(body, get, patch)
    validate(_validator("settings", target.level, family), body)
    flat, _write_only = flatten(body, get)
    flat = {p: v for p, v in flat.items() if readable("settings", target.level, family, p, v)}
    _check_licence(target, flat)
    flat = _unlocked(resolver, target, family, flat, policy)
    action = body.get("authentication_option")
    auth = None
    if family in AUTH_FAMILIES and isinstance(action, Mapping):
        auth = _auth_change(resolver.tenant, target, family, action)
    _store(resolver.tenant, target, family, flat, auth)
    resolver.invalidate()
    return Written(flat, auth is not None)


def _store(
    tenant: Tenant,
    target: Target,
    family: str,
    flat: Flat,
    auth: tuple[list[dict[str, Any]] | None, AuthChoice | None] | None,
) -> None:
    owner = target.user or target.group
    settings = tenant.account.settings if owner is None else owner.settings
    settings.family(family).update(flat)
    if auth is None:
        return
    options, choice = auth
    if options is not None:
        tenant.account.auth_options[family] = options
    if choice is not None:
        settings.auth[family] = choice


def patch_locks(
    resolver: Resolver, group: Group | None, family: LockFamily, body: Mapping[str, Any]
) -> Written:
    level: Literal["group", "account"] = "account" if group is None else "group"
    get, patch = lock_shape(level, family, "get"), lock_shape(level, family, "patch")
    body = strip_get_only(body, get, patch)
    validate(_validator("lock", level, family), body)
    flat, _unknown = flatten(body, get)
    flat = {p: v for p, v in flat.items() if readable("lock", level, family, p, v)}
    locks = resolver.tenant.account.locks if group is None else group.locks
    locks.setdefault(family, {}).update(flat)
    resolver.invalidate()
    return Written(flat, False)
