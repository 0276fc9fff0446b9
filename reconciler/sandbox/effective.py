"""Effective settings: account, then the user's primary group, then the user; locks win.

A lock set at the account (or a group) fixes the locked leaves below it to the locking level's
value: lower-level overrides of a locked path are kept in storage but not applied. Results are
cached per entity and family; any change to the tenant must call `invalidate()`.
"""

from __future__ import annotations

from typing import Any

from reconciler.sandbox.authopts import options_view
from reconciler.sandbox.levels import fits
from reconciler.sandbox.shapes import (
    Flat,
    Path,
    covered,
    lock_shape,
    settings_shape,
    unflatten,
)
from reconciler.sandbox.tenant import AUTH_FAMILIES, AuthChoice, Group, Tenant, User
from reconciler.sandbox.values import default_for
from reconciler.vocab import Family, Level

# General lock leaves that lock the boolean of an authentication family.
_AUTH_LOCKS: dict[Path, tuple[str, Path]] = {
    ("schedule_meeting", "meeting_authentication"): (
        "meeting_authentication",
        ("meeting_authentication",),
    ),
    ("recording", "recording_authentication"): (
        "recording_authentication",
        ("recording_authentication",),
    ),
}

Owner = tuple[str, str]  # ("account", id) or ("group", id): who holds a lock


def lock_target(lock_family: str, path: Path) -> tuple[str, Path]:
    """The settings family and path that a lock leaf locks."""
    if lock_family == "meeting_security":
        return "meeting_security", path
    return _AUTH_LOCKS.get(path, ("general", path))


def auth_leaf(level: Level, family: str) -> Path | None:
    """Where the `authentication_options` list sits in a family's GET shape (None if absent)."""
    if family not in AUTH_FAMILIES:
        return None
    shape = settings_shape(level, family, "get")
    return next((path for path in shape.leaves if path[-1] == "authentication_options"), None)


class Resolver:
    """Computes (and caches) what GET returns at each level."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._cache: dict[tuple[str, str, str], Any] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    def _cached(self, key: tuple[str, str, str], build: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    # locks -----------------------------------------------------------------

    def locked_paths(self, locks: dict[str, Flat], family: str) -> frozenset[Path]:
        paths = set()
        for lock_family, flat in locks.items():
            for path, value in flat.items():
                target_family, target = lock_target(lock_family, path)
                if value is True and target_family == family:
                    paths.add(target)
        return frozenset(paths)

    def account_locks(self, family: str) -> frozenset[Path]:
        key = ("alock", "", family)
        return self._cached(key, lambda: self.locked_paths(self.tenant.account.locks, family))  # type: ignore[no-any-return]

    def group_locks(self, group: Group | None, family: str) -> frozenset[Path]:
        if group is None:
            return frozenset()
        key = ("glock", group.id, family)
        return self._cached(key, lambda: self.locked_paths(group.locks, family))  # type: ignore[no-any-return]

    def lock_owner(
        self, user: User | None, group: Group | None, family: str, path: Path
    ) -> Owner | None:
        """Who locks `path` for a write at the user level (user given) or group level."""
        if covered(path, self.account_locks(family)):
            return ("account", self.tenant.account.id)
        if (
            user is not None
            and group is not None
            and covered(path, self.group_locks(group, family))
        ):
            return ("group", group.id)
        return None

    def lock_document(self, owner: Group | None, lock_family: str) -> dict[str, Any]:
        level = "account" if owner is None else "group"
        shape = lock_shape(level, lock_family)
        stored = (self.tenant.account.locks if owner is None else owner.locks).get(lock_family, {})
        return unflatten(
            {path: stored.get(path, default_for(schema)) for path, schema in shape.leaves.items()}
        )

    # settings --------------------------------------------------------------

    def _projection(self, level: Level, family: str) -> Flat:
        """Account values (or the level's base values) for every leaf of the level's shape."""

        def build() -> Flat:
            account = self.tenant.account.settings.family(family)
            base = self.tenant.base.get(level, {}).get(family, {})
            skip = auth_leaf(level, family)
            flat: Flat = {}
            for path, schema in settings_shape(level, family, "get").leaves.items():
                if path == skip:
                    continue
                if path in account and fits(level, family, path, account[path]):
                    flat[path] = account[path]
                else:
                    flat[path] = base[path] if path in base else default_for(schema)
            return flat

        return self._cached(("proj", level, family), build)  # type: ignore[no-any-return]

    def account_settings(self, family: Family) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            return self._render("account", family, self._projection("account", family), [])

        return self._cached(("account", "", family), build)  # type: ignore[no-any-return]

    def group_settings(self, group: Group, family: Family) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            flat = dict(self._projection("group", family))
            overrides = group.settings.values.get(family)
            self._overlay(flat, overrides, self.account_locks(family), ("group", family))
            return self._render("group", family, flat, [group.settings.auth.get(family)])

        return self._cached(("group", group.id, family), build)  # type: ignore[no-any-return]

    def user_settings(self, user: User, family: Family) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            group, where = self.primary_group(user), ("user", family)
            account_locks = self.account_locks(family)
            flat = dict(self._projection("user", family))
            if group is not None:
                self._overlay(flat, group.settings.values.get(family), account_locks, where)
            locks = account_locks | self.group_locks(group, family)
            self._overlay(flat, user.settings.values.get(family), locks, where)
            chain = [group.settings.auth.get(family) if group else None]
            chain.append(user.settings.auth.get(family))
            return self._render("user", family, flat, chain)

        return self._cached(("user", user.id, family), build)  # type: ignore[no-any-return]

    def primary_group(self, user: User) -> Group | None:
        group_id = user.primary_group_id
        return self.tenant.group(group_id) if group_id else None

    @staticmethod
    def _overlay(
        flat: Flat, overrides: Flat | None, locked: frozenset[Path], where: tuple[str, str]
    ) -> None:
        """Apply `overrides` to `flat`, except locked paths and values the level cannot hold."""
        for path, value in (overrides or {}).items():
            if path in flat and not covered(path, locked) and fits(*where, path, value):
                flat[path] = value

    def _render(
        self, level: Level, family: str, flat: Flat, chain: list[AuthChoice | None]
    ) -> dict[str, Any]:
        doc = unflatten(flat)
        where = auth_leaf(level, family)
        if where is not None:
            options = self.tenant.account.auth_options.get(family, [])
            node = doc
            for key in where[:-1]:
                node = node.setdefault(key, {})
            node[where[-1]] = options_view(options, [c for c in chain if c is not None])
        return doc
