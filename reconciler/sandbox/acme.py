"""Acme: the small hand-written tenant behind the example settings repo and the quick start.

Account "Acme" (id `sandbox-account`), groups Engineering, Sales and Support, thirteen users
`<name>@acme.test`. The account locks the waiting room on and join-before-host off; Engineering
locks cloud recording on; oscar is inactive and mallory belongs to no group. Values not set here
are drawn from the schemas with a fixed seed, so the tenant is the same on every run.
"""

from __future__ import annotations

import base64
import hashlib
import random
from typing import Any

from reconciler.sandbox.config import DEFAULT_ACCOUNT_ID
from reconciler.sandbox.generate import account_settings, all_locks, auth_options, base_values
from reconciler.sandbox.shapes import Flat, undotted
from reconciler.sandbox.tenant import Account, Group, Settings, Tenant, User

ACCOUNT_VALUES: dict[str, dict[str, Any]] = {
    "general": {
        "in_meeting.chat": True,
        "in_meeting.file_transfer": False,
        "in_meeting.screen_sharing": True,
        "in_meeting.e2e_encryption": False,
        "recording.cloud_recording": True,
        "recording.local_recording": False,
        "schedule_meeting.host_video": False,
        "schedule_meeting.join_before_host": False,
    },
    "meeting_security": {"meeting_security.waiting_room": True},
    "meeting_authentication": {"meeting_authentication": False},
    "recording_authentication": {"recording_authentication": False},
}
ACCOUNT_LOCKS = {
    "general": {"schedule_meeting.join_before_host": True},
    "meeting_security": {"meeting_security.waiting_room": True},
}
GROUPS: dict[str, dict[str, Any]] = {
    "Engineering": {
        "values": {
            "general": {"recording.cloud_recording": True, "in_meeting.file_transfer": True}
        },
        "locks": {"general": {"recording.cloud_recording": True}},
    },
    "Sales": {"values": {"general": {"schedule_meeting.host_video": True}}, "locks": {}},
    "Support": {
        "values": {"general": {"in_meeting.screen_sharing": False}},
        "locks": {"general": {"in_meeting.screen_sharing": True}},
    },
}
# name: (last name, groups, status, role, user-level overrides of general settings)
USERS: dict[str, tuple[str, list[str], str, str, dict[str, Any]]] = {
    "alice": ("Anderson", ["Engineering"], "active", "0", {}),
    "bob": ("Brown", ["Engineering"], "active", "1", {"in_meeting.chat": False}),
    "carol": ("Clark", ["Engineering", "Sales"], "active", "2", {}),
    "dave": ("Davis", ["Engineering"], "active", "2", {"recording.cloud_recording": False}),
    "erin": ("Evans", ["Sales"], "active", "2", {}),
    "frank": ("Fischer", ["Sales"], "active", "2", {"schedule_meeting.host_video": False}),
    "grace": ("Garcia", ["Sales"], "active", "2", {}),
    "heidi": ("Hoffmann", ["Support"], "active", "2", {"in_meeting.screen_sharing": True}),
    "ivan": ("Ivanov", ["Support"], "active", "2", {}),
    "judy": ("Jones", ["Support"], "active", "2", {}),
    "mallory": ("Miller", [], "active", "2", {"schedule_meeting.join_before_host": True}),
    "niaj": ("Nair", ["Support"], "active", "2", {}),
    # Left the company: no file in examples/acme names an inactive user (that is an error).
    "oscar": ("Olsen", ["Support"], "inactive", "2", {}),
}


def stable_id(kind: str, name: str) -> str:
    digest = hashlib.sha256(f"acme/{kind}/{name}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode()[:22]


def _flats(dotted_values: dict[str, dict[str, Any]]) -> dict[str, Flat]:
    return {f: {undotted(k): v for k, v in values.items()} for f, values in dotted_values.items()}


def _account(rng: random.Random) -> Account:
    settings = account_settings(rng)
    for family, flat in _flats(ACCOUNT_VALUES).items():
        settings.family(family).update(flat)
    locks = {f: dict.fromkeys(flat, False) for f, flat in all_locks(rng, "account", 0).items()}
    for family, flat in _flats(ACCOUNT_LOCKS).items():
        locks[family].update(flat)
    return Account(DEFAULT_ACCOUNT_ID, "Acme", settings, locks, auth_options(rng))


def _user(name: str, index: int, group_ids: dict[str, str]) -> User:
    last, groups, status, role, overrides = USERS[name]
    return User(
        id=stable_id("user", name),
        email=f"{name}@acme.test",
        first_name=name.capitalize(),
        last_name=last,
        status=status,
        role_id=role,
        group_ids=[group_ids[group] for group in groups],
        created_at=f"2023-0{1 + index % 9}-1{index % 10}T09:00:00Z",
        pmi=5_550_000_000 + index * 1_111,
        timezone="Europe/Berlin" if index % 2 else "America/New_York",
        settings=Settings(_flats({"general": overrides}) if overrides else {}),
    )


def acme_tenant() -> Tenant:
    rng = random.Random(2024)  # noqa: S311 - fixed example data
    account = _account(rng)
    tenant = Tenant(account=account, base=base_values(rng))
    for name, spec in GROUPS.items():
        group = Group(stable_id("group", name), name, Settings(_flats(spec["values"])))
        group.locks = _flats(spec["locks"])
        tenant.groups[group.id] = group
    group_ids = {group.name: group.id for group in tenant.groups.values()}
    for index, name in enumerate(USERS):
        tenant.add_user(_user(name, index, group_ids))
    return tenant
