"""Save and load a tenant (and the config) as JSON, atomically (temp file + `os.replace`).

Flat settings maps are written with dotted keys (`"in_meeting.waiting_room": true`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError
from reconciler.sandbox.config import SandboxConfig
from reconciler.sandbox.shapes import Flat, dotted, undotted
from reconciler.sandbox.tenant import Account, AuthChoice, Group, Settings, Tenant, User

FORMAT = "reconciler-sandbox-state/1"
_USER_FIELDS = ("id", "email", "first_name", "last_name", "type", "status", "role_id")
_USER_MORE = ("group_ids", "created_at", "pmi", "timezone", "dept")


def _flat_out(flats: dict[str, Flat]) -> dict[str, dict[str, Any]]:
    return {
        family: {dotted(p): v for p, v in flat.items()} for family, flat in flats.items() if flat
    }


def _flat_in(data: dict[str, dict[str, Any]]) -> dict[str, Flat]:
    return {family: {undotted(k): v for k, v in flat.items()} for family, flat in data.items()}


def _settings_out(settings: Settings) -> dict[str, Any]:
    auth = {
        family: {"visible": choice.visible, "default_id": choice.default_id}
        for family, choice in settings.auth.items()
    }
    out: dict[str, Any] = {"values": _flat_out(settings.values)}
    if auth:
        out["auth"] = auth
    return out


def _settings_in(data: dict[str, Any]) -> Settings:
    auth = {
        family: AuthChoice(dict(choice["visible"]), choice["default_id"])
        for family, choice in data.get("auth", {}).items()
    }
    return Settings(_flat_in(data.get("values", {})), auth)


def tenant_to_dict(tenant: Tenant) -> dict[str, Any]:
    account = tenant.account
    return {
        "account": {
            "id": account.id,
            "name": account.name,
            "number": account.number,
            "settings": _settings_out(account.settings),
            "locks": _flat_out(account.locks),
            "auth_options": account.auth_options,
        },
        "base": {level: _flat_out(flats) for level, flats in tenant.base.items()},
        "groups": [_group_out(group) for group in tenant.groups.values()],
        "users": [_user_out(user) for user in tenant.users],
    }


def _group_out(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "settings": _settings_out(group.settings),
        "locks": _flat_out(group.locks),
    }


def _user_out(user: User) -> dict[str, Any]:
    out = {name: getattr(user, name) for name in (*_USER_FIELDS, *_USER_MORE)}
    if user.settings.values or user.settings.auth:
        out["settings"] = _settings_out(user.settings)
    return out


def tenant_from_dict(data: dict[str, Any]) -> Tenant:
    raw = data["account"]
    account = Account(
        id=raw["id"],
        name=raw["name"],
        number=raw.get("number", 1000001),
        settings=_settings_in(raw["settings"]),
        locks=_flat_in(raw.get("locks", {})),
        auth_options=raw.get("auth_options", {}),
    )
    groups = {g["id"]: _group_in(g) for g in data.get("groups", [])}
    users = [_user_in(u) for u in data.get("users", [])]
    base = {level: _flat_in(flats) for level, flats in data.get("base", {}).items()}
    return Tenant(account=account, groups=groups, users=users, base=base)


def _group_in(data: dict[str, Any]) -> Group:
    return Group(
        id=data["id"],
        name=data["name"],
        settings=_settings_in(data.get("settings", {})),
        locks=_flat_in(data.get("locks", {})),
    )


def _user_in(data: dict[str, Any]) -> User:
    fields = {name: data[name] for name in (*_USER_FIELDS, *_USER_MORE) if name in data}
    return User(**fields, settings=_settings_in(data.get("settings", {})))


def save_state(path: Path, tenant: Tenant, config: SandboxConfig) -> None:
    document = {
        "format": FORMAT,
        "config": config.model_dump(mode="json"),
        "tenant": tenant_to_dict(tenant),
    }
    text = json.dumps(document, separators=(",", ":"))
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load_state(path: Path) -> tuple[Tenant, SandboxConfig]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read sandbox state: {exc}", file=str(path)) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f"not a sandbox state file (expected format {FORMAT})", file=str(path))
    try:
        config = SandboxConfig.model_validate(document["config"])
        return tenant_from_dict(document["tenant"]), config
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # pydantic's ValidationError is a ValueError; a hand-edited file can break anything.
        raise ConfigError(
            f"the sandbox state is damaged ({type(exc).__name__}); delete it to start over",
            file=str(path),
        ) from exc
