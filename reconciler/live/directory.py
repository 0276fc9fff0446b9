"""Zoom's users and groups as a run has seen them, and the checks of the names the repo uses.

A full run lists users (one request per 300) and groups once. A scoped run (a PR touching a few
files, `--target`) asks for each named user by email instead, so its cost follows the change and
not the size of the account. A file naming a user or group that Zoom does not know, or a user who
is not active, is an error at that file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.desired.problems import Spot, problem, sorted_problems
from reconciler.desired.state import DesiredState, Group
from reconciler.diagnostic import Diagnostic, Severity, from_problem
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.vocab import email_key, look_alike_key
from reconciler.zoom.endpoints import GroupSummary, UserSummary

USER_NOT_ACTIVE = "user-not-active"
# Up to this many named users, one GET each is cheaper than paging through the whole account.
INDIVIDUAL_LOOKUP_LIMIT = 50


@dataclass
class Directory:
    users: dict[str, UserSummary] = field(default_factory=dict)  # by email_key
    users_by_id: dict[str, UserSummary] = field(default_factory=dict)
    groups_by_name: dict[str, GroupSummary] = field(default_factory=dict)
    groups_by_id: dict[str, GroupSummary] = field(default_factory=dict)
    listed_all_users: bool = False
    # Emails (by email_key) that Zoom gives more than one identity: two ids for one email, or
    # one id for two emails. Such a user is never written: whose settings would land where
    # cannot be told. The value says why, naming both.
    ambiguous: dict[str, str] = field(default_factory=dict)
    # Emails whose lookup Zoom answered with another user's record, and what it said.
    misanswered: dict[str, str] = field(default_factory=dict)
    _look_alikes: dict[str, str] | None = None

    def add_user(self, user: UserSummary) -> None:
        """The first record seen for an email or id stays; a second that contradicts it makes
        both emails ambiguous (each keeps the first reason found)."""
        key, user_id = email_key(user["email"]), user["id"]
        known = self.users.get(key)
        if known is not None and known["id"] != user_id:
            self.ambiguous.setdefault(
                key,
                (
                    f"Zoom has two users with the email {user['email']} "
                    f"(ids {known['id']} and {user_id}); not written: which one the file means "
                    "cannot be told, so fix the duplicate in Zoom"
                ),
            )
        holder = self.users_by_id.get(user_id)
        if holder is not None and email_key(holder["email"]) != key:
            why = (
                f"Zoom gives the id {user_id} to both {holder['email']} and {user['email']}; "
                "not written: a write to that id would change another user's settings, so "
                "check both users in Zoom"
            )
            self.ambiguous.setdefault(key, why)
            self.ambiguous.setdefault(email_key(holder["email"]), why)
        self.users.setdefault(key, user)
        self.users_by_id.setdefault(user_id, user)
        self._look_alikes = None

    def identity_problem(self, user: UserSummary) -> str | None:
        """Why this user must not be written, when Zoom gives its email more than one identity."""
        return self.ambiguous.get(email_key(user["email"]))

    def look_alike(self, email: str) -> str | None:
        """A listed user's email that `email` resembles (case, compatibility forms) without
        being it: franK@acme.test, with the Kelvin sign, and frank@acme.test."""
        if self._look_alikes is None:
            self._look_alikes = {look_alike_key(key): key for key in self.users}
        found = self._look_alikes.get(look_alike_key(email))
        return found if found is not None and found != email_key(email) else None

    def active_users(self, emails: Iterable[str] | None = None) -> list[UserSummary]:
        """The users Zoom has as active: every one listed (in the order seen), or of `emails`
        (by email_key) those known and active, in their order. No run reads or writes another."""
        found: Iterable[UserSummary | None] = (
            self.users.values() if emails is None else (self.users.get(e) for e in emails)
        )
        return [user for user in found if user and user.get("status", "active") == "active"]

    def primary_group(self, user: UserSummary) -> str | None:
        """The id of the group whose settings and locks Zoom applies to the user: the first of
        their groups (None for a user in none). It may be a group this directory does not know."""
        group_ids = user.get("group_ids") or []
        return group_ids[0] if group_ids else None

    def group_names(self, user: UserSummary) -> list[str]:
        ids = user.get("group_ids") or []
        return [self.groups_by_id[g]["name"] for g in ids if g in self.groups_by_id]

    def group_of(self, group: Group) -> GroupSummary | None:
        """The Zoom group a group file manages: by its `id` if given, else by its name."""
        if group.id is not None:
            return self.groups_by_id.get(group.id)
        return self.groups_by_name.get(group.name)


def check_named_targets(
    state: DesiredState, directory: Directory, emails: Iterable[str]
) -> list[Diagnostic]:
    """Every group file's group must exist (else ValidationFailed); a user file for a user who
    is not active in Zoom, or no longer there, is a warning: offboarding is routine, and the
    other targets still get planned. Returns the warnings, by file."""
    groups = [_group_problem(state, directory, name) for name in state.groups]
    found = [problem for problem in groups if problem is not None]
    if found:
        raise ValidationFailed(sorted_problems(found))
    users = [_user_problem(state, directory, email) for email in emails]
    return [
        dataclasses.replace(from_problem(p, USER_NOT_ACTIVE), severity=Severity.WARNING)
        for p in sorted_problems(p for p in users if p is not None)
    ]


def check_selected_users(directory: Directory, emails: Iterable[str]) -> None:
    """Every user a `--target` selector (or `explain`) names must be active in Zoom."""
    for email in emails:
        found = directory.users.get(email)
        if found is None:
            raise ConfigError(
                f"Zoom has no user {email}", hint="check the spelling of the email address"
            )
        status = found.get("status", "active")
        if status != "active":
            raise ConfigError(f"user {email} is {status} in Zoom", hint="activate the user first")


def check_selected_groups(state: DesiredState, names: Iterable[str]) -> None:
    """Every group a `--target` selector names must have a group file."""
    missing = sorted(name for name in names if name not in state.groups)
    if missing:
        known = ", ".join(sorted(state.groups)) or "none"
        raise ConfigError(
            f"--target group:{missing[0]}: no file in this repo manages group {missing[0]}",
            hint=f"groups with a file: {known}",
        )


def _user_problem(state: DesiredState, directory: Directory, email: str) -> ConfigError | None:
    user = state.users.get(email)
    if user is None:
        return None
    found = directory.users.get(email)
    if found is None:
        resembled = directory.look_alike(email)
        if resembled is not None:
            return problem(
                user.file,
                Spot(1, 1),
                ("user",),
                f"Zoom has no user {ascii(email)[1:-1]}, only the look-alike {resembled}",
                "emails match exactly but for ASCII case: rename the file if it is meant for "
                f"{resembled}; skipped",
            )
        if email in directory.misanswered:
            return problem(
                user.file,
                Spot(1, 1),
                ("user",),
                f"user {ascii(email)[1:-1]}: {directory.misanswered[email]}",
                "skipped",
            )
        return problem(
            user.file,
            Spot(1, 1),
            ("user",),
            f"Zoom has no user {email}",
            "check the spelling, or remove the file if the user left; skipped",
        )
    status = found.get("status", "active")
    if status != "active":
        return problem(
            user.file,
            Spot(1, 1),
            ("user",),
            f"user {email} is {status} in Zoom",
            "activate the user in Zoom, or remove the file; skipped",
        )
    return None


def _group_problem(state: DesiredState, directory: Directory, name: str) -> ConfigError | None:
    group = state.groups[name]
    if directory.group_of(group) is not None:
        return None
    what = f"id {group.id}" if group.id else f"named {name!r}"
    return problem(
        group.file,
        Spot(1, 1),
        ("group",),
        f"Zoom has no group {what}",
        "create the group in Zoom first, or fix the name",
    )
