"""Settings repos for apply tests: small hand-written ones, and generated ones that flip settings
of many users of a generated tenant (with the exact PATCH bodies each user must get)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.diff import lookup
from reconciler.sandbox.effective import Resolver
from reconciler.sandbox.tenant import Tenant, User
from reconciler.shapes import repo_shape
from reconciler.vocab import Family

BUSINESS = "rate_tier: business\n"
UNLIMITED = (
    "rate_tier: business\nsafety:\n  max_changed_targets: 100000\n  max_changed_percent: 100\n"
)
# What the generated repos change (family, repo-shaped path), and a managed field they keep.
FLIPS: tuple[tuple[Family, tuple[str, ...]], ...] = (
    ("general", ("in_meeting", "breakout_room")),
    ("general", ("in_meeting", "annotation")),
    ("meeting_security", ("waiting_room",)),
)
KEPT: tuple[Family, tuple[str, ...]] = ("general", ("in_meeting", "polling"))
REPO_KEY = {"general": "settings", "meeting_security": "meeting_security"}

# Expected PATCH bodies: user id -> option ("" for general) -> body.
Bodies = dict[str, dict[str, dict[str, Any]]]


def write_repo(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def to_yaml(document: Mapping[str, Any], indent: int = 0) -> str:
    lines = []
    for key, value in document.items():
        if isinstance(value, Mapping):
            lines.append(f"{' ' * indent}{key}:\n{to_yaml(value, indent + 2)}")
        else:
            lines.append(f"{' ' * indent}{key}: {json.dumps(value)}\n")
    return "".join(lines)


def nest(flat: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def zoom_path(family: Family, path: tuple[str, ...]) -> tuple[str, ...]:
    return ("meeting_security", *path) if family == "meeting_security" else path


def _live(resolver: Resolver, user: User, family: Family, path: tuple[str, ...]) -> Any:
    return lookup(repo_shape(family, resolver.user_settings(user, family)), path)


def _unlocked(resolver: Resolver, user: User, family: Family, path: tuple[str, ...]) -> bool:
    group = resolver.primary_group(user)
    return resolver.lock_owner(user, group, family, zoom_path(family, path)) is None


def _flips_for(index: int, more: bool) -> list[tuple[Family, tuple[str, ...]]]:
    """Every user flips breakout_room; with `more`, every third user also annotation and every
    fourth waiting_room (a second family)."""
    if not more:
        return [FLIPS[0]]
    return [FLIPS[0]] + [FLIPS[1]] * (index % 3 == 0) + [FLIPS[2]] * (index % 4 == 0)


def changeable_users(tenant: Tenant, count: int) -> list[User]:
    resolver = Resolver(tenant)
    found = [
        user
        for user in tenant.users
        if user.status == "active" and all(_unlocked(resolver, user, f, p) for f, p in FLIPS)
    ]
    assert len(found) >= count, f"only {len(found)} changeable users"
    return found[:count]


def flip_repo(
    root: Path,
    tenant: Tenant,
    count: int,
    options: str = UNLIMITED,
    *,
    in_sync: int = 0,
    more: bool = True,
) -> Bodies:
    """A repo whose user files change settings of `count` users (one, or with `more` up to three
    in up to two families), and in which `in_sync` more users manage one setting without changing
    it; returns the PATCH bodies the changed users must get."""
    resolver = Resolver(tenant)
    bodies: Bodies = {}
    files = {"reconciler.yaml": options}
    users = changeable_users(tenant, count + in_sync)
    for user in users[count:]:
        kept = {KEPT[1]: _live(resolver, user, *KEPT)}
        files[f"users/{user.email}.yaml"] = to_yaml({"settings": nest(kept)})
    for index, user in enumerate(users[:count]):
        desired: dict[Family, dict[tuple[str, ...], Any]] = {"general": {}}
        for family, path in _flips_for(index, more):
            desired.setdefault(family, {})[path] = not _live(resolver, user, family, path)
        bodies[user.id] = {
            "" if family == "general" else family: nest(
                {zoom_path(family, path): value for path, value in flat.items()}
            )
            for family, flat in desired.items()
        }
        desired["general"][KEPT[1]] = _live(resolver, user, *KEPT)
        document = {REPO_KEY[family]: nest(flat) for family, flat in desired.items()}
        files[f"users/{user.email}.yaml"] = to_yaml(document)
    write_repo(root, files)
    return bodies
