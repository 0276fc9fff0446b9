"""The in-memory Zoom tenant: one account, its groups and users, and what each level set.

Storage follows Zoom's inheritance: the account holds a full value for every account-level leaf;
groups and users hold only their own overrides (flat `{path: value}` maps per settings family).
`base` holds values for group- and user-level leaves the account shape does not have. Locks are
flat `{path: bool}` maps per lock family. `authentication_options` lists live on the account; groups
and users keep only which options they show or hide and their default (`AuthChoice`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.sandbox.shapes import Flat

AUTH_FAMILIES = ("meeting_authentication", "recording_authentication")

# Zoom's built-in roles.
ROLE_NAMES = {"0": "Owner", "1": "Admin", "2": "Member"}


@dataclass
class AuthChoice:
    """A group's or user's view of the account's authentication options."""

    visible: dict[str, bool] = field(default_factory=dict)
    default_id: str | None = None


@dataclass
class Settings:
    """What one level set: flat values per family, and auth option choices per auth family."""

    values: dict[str, Flat] = field(default_factory=dict)
    auth: dict[str, AuthChoice] = field(default_factory=dict)

    def family(self, family: str) -> Flat:
        return self.values.setdefault(family, {})

    def choice(self, family: str) -> AuthChoice:
        return self.auth.setdefault(family, AuthChoice())


@dataclass
class Account:
    id: str
    name: str
    settings: Settings = field(default_factory=Settings)
    locks: dict[str, Flat] = field(default_factory=dict)
    auth_options: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    number: int = 1000001


@dataclass
class Group:
    id: str
    name: str
    settings: Settings = field(default_factory=Settings)
    locks: dict[str, Flat] = field(default_factory=dict)


@dataclass
class User:
    id: str
    email: str
    first_name: str
    last_name: str
    type: int = 2
    status: str = "active"
    role_id: str = "2"
    group_ids: list[str] = field(default_factory=list)
    created_at: str = "2024-01-15T09:00:00Z"
    pmi: int = 0
    timezone: str = "UTC"
    dept: str = ""
    settings: Settings = field(default_factory=Settings)

    @property
    def primary_group_id(self) -> str | None:
        return self.group_ids[0] if self.group_ids else None


@dataclass
class Tenant:
    """The whole emulated account. Look users up with `user()`; it accepts an id or an email."""

    account: Account
    groups: dict[str, Group] = field(default_factory=dict)
    users: list[User] = field(default_factory=list)
    base: dict[str, dict[str, Flat]] = field(default_factory=dict)
    _by_key: dict[str, User] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        self._by_key = {}
        for user in self.users:
            self._index(user)

    def _index(self, user: User) -> None:
        self._by_key[user.id] = user
        self._by_key[user.email.lower()] = user

    def add_user(self, user: User) -> None:
        self.users.append(user)
        self._index(user)

    def user(self, key: str) -> User | None:
        return self._by_key.get(key) or self._by_key.get(key.lower())

    def group(self, group_id: str) -> Group | None:
        return self.groups.get(group_id)

    def members(self, group_id: str) -> list[User]:
        return [user for user in self.users if group_id in user.group_ids]

    def is_account(self, account_id: str) -> bool:
        return account_id in ("me", self.account.id)
