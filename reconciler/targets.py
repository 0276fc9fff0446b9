"""The words every command shares about targets: which target (`TargetRef`), their order, and
which targets a run covers (`Scope` from `--target`, `UserSelector` from `--users`).

They sit below plan, audit and export so that none of those imports another to name a target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from reconciler.errors import ConfigError
from reconciler.vocab import Level, email_key

if TYPE_CHECKING:
    from reconciler.desired import DesiredState

TargetKind = Level
KIND_ORDER: dict[str, int] = {"account": 0, "group": 1, "user": 2}


@dataclass(frozen=True, order=True)
class TargetRef:
    kind: TargetKind
    id: str
    email: str | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "account":
            return "account"
        return f"{self.kind} {self.email or self.name or self.id}"

    def sort_key(self) -> tuple[int, str]:
        return KIND_ORDER[self.kind], (self.email or self.name or self.id).lower()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "email": self.email, "name": self.name}


@dataclass(frozen=True)
class Scope:
    """None means "every one the repo reaches"; a set limits the run to those named."""

    account: bool = True
    groups: frozenset[str] | None = None
    users: frozenset[str] | None = None
    # Users reached through these groups' `members:` profiles (a changed profile).
    member_groups: frozenset[str] = frozenset()
    # From `--changed-since`: targets left out are unchanged, and the plan counts them.
    since_revision: bool = False
    # The repo as it was at that revision, when it loaded: what the plan compares its BLOCKED
    # changes with, so those the revision asked for already are told apart.
    base: DesiredState | None = field(default=None, compare=False, repr=False)

    def wants_group(self, name: str) -> bool:
        return self.groups is None or name in self.groups

    def wants_user(self, email: str) -> bool:
        return self.users is None or email_key(email) in self.users

    def covers(self, target: TargetRef) -> bool:
        """Whether a planned target is one this scope names (members of `member_groups` are
        not known from the target alone, so a scope with them covers none of them)."""
        if target.kind == "account":
            return self.account
        if target.kind == "group":
            return self.wants_group(target.name or "")
        return self.wants_user(target.email or "")


EVERYTHING = Scope()


def parse_selectors(selectors: Iterable[str]) -> Scope:
    """`account`, `group:NAME`, `user:EMAIL` or a bare email; any other form is an error."""
    account = False
    groups: set[str] = set()
    users: set[str] = set()
    for selector in selectors:
        kind, _, name = selector.partition(":")
        if selector == "account":
            account = True
        elif kind == "group" and name:
            groups.add(name)
        elif kind == "user" and "@" in name:
            users.add(email_key(name))
        elif "@" in selector and not name:
            users.add(email_key(selector))
        else:
            raise ConfigError(
                f"--target {selector!r} is not a selector",
                hint="use account, group:NAME, user:EMAIL or an email address",
            )
    return Scope(account=account, groups=frozenset(groups), users=frozenset(users))


@dataclass(frozen=True)
class UserSelector:
    """`--users`: email globs (`*@contractors.acme.test`) and `group:NAME` (members by name)."""

    emails: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @classmethod
    def parse(cls, selectors: Iterable[str]) -> UserSelector | None:
        emails: list[str] = []
        groups: list[str] = []
        for selector in selectors:
            kind, _, name = selector.partition(":")
            if kind == "group" and name:
                groups.append(name)
            elif kind == "user" and name:
                emails.append(email_key(name))
            elif "@" in selector and not name:
                emails.append(email_key(selector))
            else:
                raise ConfigError(
                    f"--users {selector!r} is not a selector",
                    hint="use an email (globs allowed: *@acme.test), user:EMAIL or group:NAME",
                )
        return cls(tuple(emails), tuple(groups)) if emails or groups else None

    def wants(self, email: str, groups: Iterable[str]) -> bool:
        if any(fnmatchcase(email_key(email), pattern) for pattern in self.emails):
            return True
        return any(fnmatchcase(name, pattern) for name in groups for pattern in self.groups)
