"""One apply converges: a change at the account or a group moves every user below it who only
inherits the field, so the plan pins the users whose desired value differs, and apply says
"converged" only when what it reads back (and a fresh plan) has nothing pending."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.diff import lookup
from reconciler.sandbox import generate_tenant
from reconciler.sandbox.effective import Resolver
from reconciler.sandbox.tenant import Tenant, User
from reconciler.shapes import repo_shape
from tests.apply.conftest import Served, reconciler, serving
from tests.apply.repos import UNLIMITED, to_yaml, write_repo

CHAT = ("in_meeting", "chat")
WAITING_ROOM = ("meeting_security", "waiting_room")  # as the sandbox keeps it
POLLING = ("in_meeting", "polling")


def _security(resolver: Resolver, user: User) -> bool:
    shaped = repo_shape("meeting_security", resolver.user_settings(user, "meeting_security"))
    value = lookup(shaped, ("waiting_room",))
    assert isinstance(value, bool)
    return value


def _unlock(tenant: Tenant) -> None:
    """No account or group lock over the fields these tests change."""
    for holder in [tenant.account, *tenant.groups.values()]:
        holder.locks = {}


def _plan_is_empty(repo: Path) -> bool:
    done = reconciler("plan", repo, "--detailed-exitcode")
    return done.exit_code == 0


def test_the_waiting_room_scenario_converges_in_one_apply(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tenant = generate_tenant(users=6, groups=1, seed=4)
    _unlock(tenant)
    tenant.account.settings.family("meeting_security")[WAITING_ROOM] = False
    for level in [*tenant.users, *tenant.groups.values()]:  # all inherit it from the account
        level.settings.family("meeting_security").pop(WAITING_ROOM, None)
    user = tenant.users[2]
    repo = write_repo(
        tmp_path / "repo",
        {
            "reconciler.yaml": UNLIMITED,
            "account.yaml": "meeting_security:\n  waiting_room: true\n",
            f"users/{user.email}.yaml": "meeting_security:\n  waiting_room: false\n",
        },
    )
    with serving(monkeypatch, tenant) as served:
        assert _security(Resolver(served.tenant), user) is False  # inherited, already in sync
        planned = reconciler("plan", repo)
        assert "  ~ [meeting_security] waiting_room: true -> false" in planned.stdout
        assert "(pinned: the account changes waiting_room to true)" in planned.stdout
        served.forget()
        done = reconciler("apply", repo, "--yes")
        assert done.exit_code == 0, done.output
        patches = [(e.path, e.body) for e in served.patches()]
        assert patches == [
            ("/v2/accounts/me/settings", {"meeting_security": {"waiting_room": True}}),
            (f"/v2/users/{user.id}/settings", {"meeting_security": {"waiting_room": False}}),
        ]
        assert done.stdout.endswith(
            "Converged: every change sent was read back from Zoom and matches the repo; "
            "nothing is pending.\n"
        )
        assert _plan_is_empty(repo)
        assert _security(Resolver(served.tenant), user) is False


def _inheritance_repo(root: Path, tenant: Tenant) -> tuple[Path, set[str]]:
    """The account flips chat and the first group flips polling; every user wants the old
    values (defaults.yaml), so those who only inherit must be pinned. Returns the ids of the
    users whose live values would move."""
    resolver = Resolver(tenant)
    group = next(iter(tenant.groups.values()))
    account_chat = lookup(resolver.account_settings("general"), CHAT)
    group_polling = lookup(resolver.group_settings(group, "general"), POLLING)
    files = {
        "reconciler.yaml": UNLIMITED,
        "account.yaml": to_yaml({"settings": {"in_meeting": {"chat": not account_chat}}}),
        f"groups/{group.name}.yaml": to_yaml(
            {"settings": {"in_meeting": {"polling": not group_polling}}}
        ),
        "defaults.yaml": to_yaml(
            {"settings": {"in_meeting": {"chat": account_chat, "polling": group_polling}}}
        ),
    }
    moving = set()
    for user in tenant.users:
        if user.status != "active":
            continue
        holds = user.settings.values.get("general", {})
        in_group = resolver.primary_group(user) is group
        if CHAT not in holds or (in_group and POLLING not in holds):
            moving.add(user.id)
    return write_repo(root, files), moving


@pytest.mark.slow
def test_account_and_group_changes_over_200_users_converge_in_one_apply(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tenant = generate_tenant(users=200, groups=3, seed=7)
    _unlock(tenant)
    repo, moving = _inheritance_repo(tmp_path / "repo", tenant)
    assert 50 < len(moving) < 200  # most inherit, some hold the values themselves
    with serving(monkeypatch, tenant) as served:
        served.forget()
        done = reconciler("apply", repo, "--yes")
        assert done.exit_code == 0, done.output
        assert "Converged: every change sent was read back" in done.stdout
        served.settle()
        patched = {
            e.path.removeprefix("/v2/users/").removesuffix("/settings")
            for e in served.patches()
            if e.path.startswith("/v2/users/")
        }
        assert moving <= patched  # every user who would have moved holds its value now
        assert _plan_is_empty(repo)


def test_the_final_check_reads_again_what_could_have_moved(served: Served, tmp_path: Path) -> None:
    """A user below a changed account whose desired value is the new one gets no request, but
    is read again at the end; the summary says how many were."""
    chat = lookup(Resolver(served.tenant).account_settings("general"), CHAT)
    alice = served.user_id("alice@acme.test")
    served.change(f"/users/{alice}/settings", {"in_meeting": {"chat": not chat}})  # her own
    repo = write_repo(
        tmp_path / "repo",
        {
            "reconciler.yaml": UNLIMITED,
            "account.yaml": to_yaml({"settings": {"in_meeting": {"chat": not chat}}}),
            "users/alice@acme.test.yaml": to_yaml({"settings": {"in_meeting": {"chat": not chat}}}),
        },
    )
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 0, done.output
    assert done.stdout.endswith(
        "Converged: every change sent was read back from Zoom and matches the repo, and 1 "
        "target(s) below a changed account or group were read again; nothing is pending.\n"
    )
