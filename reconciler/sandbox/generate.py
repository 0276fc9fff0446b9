"""A deterministic tenant generator: the same arguments give the same tenant, byte for byte.

Values are drawn from the derived GET schemas. Groups and users store only their overrides, so
5,000 users cost little more than 5,000 small records.
"""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.sandbox.config import DEFAULT_ACCOUNT_ID
from reconciler.sandbox.effective import auth_leaf
from reconciler.sandbox.levels import divergent
from reconciler.sandbox.shapes import Flat, Path, lock_shape, settings_shape
from reconciler.sandbox.tenant import AUTH_FAMILIES, Account, Group, Settings, Tenant, User
from reconciler.sandbox.values import default_for, fill, value_for
from reconciler.vocab import FAMILIES, LOCK_FAMILIES, Level

FIRST_NAMES = (
    "Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
    "Jean", "Ken", "Leslie", "Margaret", "Niklaus", "Ole", "Radia", "Shafi", "Tim", "Whitfield",
)  # fmt: skip
LAST_NAMES = (
    "Allen", "Backus", "Cerf", "Dijkstra", "Engelbart", "Floyd", "Goldberg", "Hopper", "Iverson",
    "Kahn", "Lamport", "Liskov", "McCarthy", "Naur", "Perlman", "Ritchie", "Sutherland", "Thompson",
)  # fmt: skip
GROUP_NAMES = (
    "Engineering", "Sales", "Support", "Marketing", "Finance", "Legal", "Operations", "Research",
    "Design", "People",
)  # fmt: skip
TIMEZONES = ("UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles")
EPOCH = datetime(2022, 1, 3, 9, 0, tzinfo=UTC)


def new_id(rng: random.Random) -> str:
    """A 22-character id shaped like Zoom's user and group ids."""
    return base64.urlsafe_b64encode(rng.getrandbits(128).to_bytes(16, "big")).decode()[:22]


def auth_options(rng: random.Random) -> dict[str, list[dict[str, Any]]]:
    def option(name: str, kind: str, default: bool, domains: str | None = None) -> dict[str, Any]:
        found: dict[str, Any] = {"id": new_id(rng), "name": name, "type": kind}
        if domains is not None:
            found["domains"] = domains
        return {**found, "default_option": default, "visible": True}

    domains = "Sign in to Zoom with specified domains"
    return {
        "meeting_authentication": [
            option("Sign in to Zoom", "enforce_login", True),
            option(domains, "enforce_login_with_domains", False, "example.test"),
        ],
        "recording_authentication": [
            option("Signed-in users in my account", "internally", True),
            option(domains, "enforce_login_with_domains", False, "example.test"),
        ],
    }


def _skip(level: Level, family: str) -> frozenset[Path]:
    leaf = auth_leaf(level, family)
    return frozenset({leaf}) if leaf else frozenset()


def account_settings(rng: random.Random) -> Settings:
    values: dict[str, Flat] = {
        f: fill(settings_shape("account", f), rng, _skip("account", f)) for f in FAMILIES
    }
    return Settings(values)


def base_values(rng: random.Random) -> dict[str, dict[str, Flat]]:
    """Values for group- and user-level leaves that the account level does not have."""
    base: dict[str, dict[str, Flat]] = {}
    for level in ("group", "user"):
        base[level] = {}
        for family in FAMILIES:
            shared = frozenset(settings_shape("account", family).leaves) - divergent(level, family)
            skip = shared | _skip(level, family)
            base[level][family] = fill(settings_shape(level, family), rng, skip)
    return base


def all_locks(rng: random.Random, level: str, share: float) -> dict[str, Flat]:
    """Lock maps for every lock family: about `share` of the boolean leaves locked."""
    locks: dict[str, Flat] = {}
    for family in LOCK_FAMILIES:
        shape = lock_shape(level, family)
        locks[family] = {
            path: (rng.random() < share) if schema.get("type") == "boolean" else default_for(schema)
            for path, schema in shape.leaves.items()
        }
    return locks


def writable_booleans(level: Level, family: str) -> list[Path]:
    get, patch = settings_shape(level, family), settings_shape(level, family, "patch")
    return [p for p, s in get.leaves.items() if s.get("type") == "boolean" and p in patch.leaves]


def some_overrides(rng: random.Random, level: Level, count: int) -> dict[str, Flat]:
    values: dict[str, Flat] = {}
    for _ in range(count):
        family = "meeting_security" if rng.random() < 0.25 else "general"
        path = rng.choice(_writable(level, family))
        values.setdefault(family, {})[path] = rng.random() < 0.5
    return values


_WRITABLE: dict[tuple[str, str], list[Path]] = {}


def _writable(level: Level, family: str) -> list[Path]:
    if (level, family) not in _WRITABLE:
        _WRITABLE[(level, family)] = writable_booleans(level, family)
    return _WRITABLE[(level, family)]


def _only_locked(locks: dict[str, Flat]) -> dict[str, Flat]:
    return {family: {p: v for p, v in flat.items() if v is True} for family, flat in locks.items()}


def make_groups(rng: random.Random, count: int) -> dict[str, Group]:
    groups = {}
    for index in range(count):
        name = GROUP_NAMES[index] if index < len(GROUP_NAMES) else f"Team {index + 1:03d}"
        group = Group(new_id(rng), name, Settings(some_overrides(rng, "group", rng.randint(2, 6))))
        group.locks = _only_locked(all_locks(rng, "group", 0.04))
        groups[group.id] = group
    return groups


def make_user(rng: random.Random, index: int, group_ids: list[str]) -> User:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    roll = rng.random()
    status = "inactive" if roll < 0.06 else "pending" if roll < 0.1 else "active"
    groups = _pick_groups(rng, group_ids)
    created = EPOCH + timedelta(hours=index * 7 + rng.randint(0, 6))
    user = User(
        id=new_id(rng),
        email=f"user{index:05d}@example.test",
        first_name=first,
        last_name=last,
        type=1 if rng.random() < 0.2 else 2,
        status=status,
        role_id="0" if index == 0 else "1" if rng.random() < 0.02 else "2",
        group_ids=groups,
        created_at=created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        pmi=rng.randint(2_000_000_000, 9_999_999_999),
        timezone=rng.choice(TIMEZONES),
        dept=rng.choice(("", "R&D", "Sales", "Support", "Finance")),
    )
    if rng.random() < 0.15:
        user.settings = Settings(some_overrides(rng, "user", rng.randint(1, 3)))
    return user


def _pick_groups(rng: random.Random, group_ids: list[str]) -> list[str]:
    if not group_ids:
        return []
    roll = rng.random()
    if roll < 0.05:
        return []
    if roll < 0.15 and len(group_ids) > 1:
        return rng.sample(group_ids, 2)
    return [rng.choice(group_ids)]


def generate_tenant(
    users: int = 1000,
    groups: int = 10,
    seed: int = 0,
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    account_name: str = "Sandbox Co",
) -> Tenant:
    """A tenant of `users` users in `groups` groups, fully determined by the arguments."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data
    account = Account(account_id, account_name, account_settings(rng))
    account.locks = all_locks(rng, "account", 0.05)
    account.auth_options = auth_options(rng)
    tenant = Tenant(account=account, base=base_values(rng))
    tenant.groups = make_groups(rng, groups)
    group_ids = list(tenant.groups)
    for index in range(users):
        tenant.add_user(make_user(rng, index, group_ids))
    return tenant


__all__ = ["AUTH_FAMILIES", "generate_tenant", "new_id", "value_for"]
