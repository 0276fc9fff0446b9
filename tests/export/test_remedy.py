"""`export --remedy`: the planner's edits close the loop audit -> remedy -> validate -> apply ->
audit on a generated tenant, at the highest layer, merged, within what each level's API sets."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.desired import load_repo
from reconciler.policy.fields import lock_for, reachable, writable
from reconciler.sandbox import generate_tenant
from tests.plan.sandbox_repo import prepare_sandbox

CIS = "cis-zoom-1.0"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def audit_failures(repo: Path) -> dict[tuple[str, str], int]:
    done = run("audit", str(repo), "--sandbox", "--quiet", "--format", "json")
    assert done.exit_code in (0, 2), done.output
    report: dict[str, Any] = json.loads(done.stdout)
    found: dict[tuple[str, str], int] = {}
    for finding in report["findings"]:
        if finding["kind"] == "policy" and finding["status"] == "fail":
            key = (finding["rule"], finding["level"])
            found[key] = found.get(key, 0) + 1
    return found


@pytest.fixture(scope="module")
def remedied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result, dict[Any, int]]:
    repo = tmp_path_factory.mktemp("remedy") / "repo"
    repo.mkdir()
    (repo / "reconciler.yaml").write_text(f"policies: [{CIS}]\n", encoding="utf-8")
    asyncio.run(prepare_sandbox(repo, tenant=generate_tenant(60, 5, 7)))
    before = audit_failures(repo)
    done = run("export", str(repo), "--sandbox", "--quiet", "--remedy", CIS)
    return repo, done, before


def test_the_remedied_repo_validates_and_after_apply_only_manual_steps_fail(
    remedied: tuple[Path, Result, dict[Any, int]],
) -> None:
    repo, done, before = remedied
    assert done.exit_code == 0, done.output
    assert sum(before.values()) > 1000
    assert run("validate", str(repo)).exit_code == 0
    applied = run("apply", str(repo), "--sandbox", "--yes", "--force", "--quiet")
    assert applied.exit_code == 0, applied.output
    after = audit_failures(repo)
    manual = {
        line.split(" ")[1].rstrip(":").split("/")[1]
        for line in done.stderr.splitlines()
        if line.startswith("manual: ")
    }
    still = {rule.split("/")[1] for rule, _level in after}
    assert still <= manual, (still - manual, done.stderr)
    assert sum(after.values()) < sum(before.values()) / 100
    # no user file: what users need goes into the account's locks or defaults.yaml
    assert not (repo / "users").exists()
    assert sorted(p.name for p in (repo / "groups").iterdir()) == [
        "Engineering.yaml", "Finance.yaml", "Marketing.yaml", "Sales.yaml", "Support.yaml",
    ]  # fmt: skip


def test_two_rules_on_one_field_get_the_one_value_that_passes_both(
    remedied: tuple[Path, Result, dict[Any, int]],
) -> None:
    repo, done, _before = remedied
    state = load_repo(repo)
    assert state.account is not None
    # cis-1.1.2.1.1 wants >= 8 (remedy 8), cis-1.1.2.1.2 >= 10 (remedy 10)
    path = ("schedule_meeting", "meeting_password_requirement", "length")
    assert state.account.settings.flat("general")[path] == 10
    assert state.defaults.flat("general")[path] == 10
    lines = [line for line in done.stderr.splitlines() if "cis-1.1.2.1.1:" in line]
    assert len(lines) == 1
    assert "account.yaml:" in lines[0]
    assert "settings.schedule_meeting.meeting_password_requirement.length" in lines[0]


def test_no_file_gets_a_field_its_level_cannot_set(
    remedied: tuple[Path, Result, dict[Any, int]],
) -> None:
    repo, done, _before = remedied
    for group in (repo / "groups").iterdir():
        text = group.read_text(encoding="utf-8")
        for field in (
            "use_pmi_for_schedule_meetings", "use_pmi_for_instant_meetings", "personal_meeting",
            "virtual_background_settings",
        ):  # fmt: skip
            assert field not in text, (group.name, field)
    assert (
        "manual: cis-zoom-1.0/cis-1.1.2.6-group (Scheduled meetings do not use the Personal"
        " Meeting ID (group field)): 5 failing target(s): set"
        " settings.schedule_meeting.use_pmi_for_schedule_meetings: False in the Zoom web portal,"
        " for a group: User Management > Groups > the group > Meeting > Schedule Meeting > Use"
        " Personal Meeting ID (PMI) when scheduling a meeting: off (the group API has no such"
        " field) (the group settings API cannot set it)"
    ) in done.stderr.splitlines()


def test_a_rule_failing_everywhere_is_one_account_value_and_its_lock(
    remedied: tuple[Path, Result, dict[Any, int]],
) -> None:
    repo, done, _before = remedied
    line = next(s for s in done.stderr.splitlines() if "/cis-1.1.1.2:" in s)
    assert line.startswith("remedy of cis-zoom-1.0/cis-1.1.1.2: fixes ")
    account = (repo / "account.yaml").read_text(encoding="utf-8").splitlines()
    spots = re.findall(r"([^\s,]+):(\d+) ([^\s,]+)", line.split("target(s): ", 1)[1])
    assert [(file, path) for file, _n, path in spots] == [
        ("account.yaml", "meeting_security.waiting_room"),
        ("account.yaml", "locks.meeting_security.waiting_room"),
    ]
    assert [account[int(n) - 1].strip() for _f, n, _p in spots] == ["waiting_room: true"] * 2


def test_a_user_file_that_sets_the_field_is_kept_and_the_field_left_unlocked(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "reconciler.yaml").write_text("policies: [zoom-security-baseline]\n", encoding="utf-8")
    tenant = generate_tenant(12, 2, 7)
    email = sorted(user.email for user in tenant.users)[0]
    (repo / "users").mkdir()
    (repo / "users" / f"{email}.yaml").write_text(
        "meeting_security:\n  waiting_room: false\n", encoding="utf-8"
    )
    asyncio.run(prepare_sandbox(repo, tenant=tenant))
    done = run("export", str(repo), "--sandbox", "--quiet", "--remedy", "zoom-security-baseline")
    assert done.exit_code == 0, done.output
    state = load_repo(repo)
    assert state.account is not None
    assert state.account.settings.flat("meeting_security")[("waiting_room",)] is True
    locks = state.account.locks
    # a lock would override the user's own file (and the plan would call it BLOCKED)
    assert ("waiting_room",) not in locks.flat("meeting_security")
    assert ("schedule_meeting", "join_before_host") in locks.flat("general")
    assert (
        "left failing: zoom-security-baseline/zsb-lobby-locked (The waiting room or the meeting"
        " passcode is on and locked for the account): 1 target(s): its lock would override what"
        f" user {email} states; drop that value, or acknowledge the rule in acknowledged.yaml"
    ) in done.stderr.splitlines()
    assert f"  kept as the repo states them: user {email}" in done.stderr
    assert (repo / "users" / f"{email}.yaml").read_text(encoding="utf-8") == (
        "meeting_security:\n  waiting_room: false\n"
    )


def test_an_unknown_pack_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    asyncio.run(prepare_sandbox(repo))
    done = run("export", str(repo), "--sandbox", "--quiet", "--remedy", "cis-zoom-2.0")
    assert done.exit_code == 1
    assert done.output == (
        "no shipped policy pack named 'cis-zoom-2.0' (hint: did you mean 'cis-zoom-1.0'?)\n"
        "1 problem\n"
    )
    assert sorted(p.name for p in repo.iterdir()) == [".reconciler"]
    empty = run("export", str(repo), "--sandbox", "--quiet", "--remedy", "cis-zoom-1.0,")
    assert empty.exit_code == 1
    assert "name packs separated by commas" in empty.stderr


def test_what_each_level_can_set_and_lock() -> None:
    assert not writable("group", "general", ("schedule_meeting", "use_pmi_for_schedule_meetings"))
    assert writable("account", "meeting_security", ("waiting_room",))
    assert lock_for("account", "meeting_security", ("waiting_room",)) == (
        "meeting_security", "waiting_room",
    )  # fmt: skip
    assert lock_for("account", "general", ("in_meeting", "chat")) == ("in_meeting", "chat")
    assert lock_for("user", "general", ("in_meeting", "chat")) is None
    assert lock_for("account", "meeting_authentication", ("meeting_authentication",)) == (
        "schedule_meeting", "meeting_authentication",
    )  # fmt: skip
    no_lock = ("meeting_password_requirement", "length")
    assert lock_for("account", "meeting_security", no_lock) is None
    # personal_meeting: no group PATCH field, and the lock PATCH takes for it is not in the
    # lock GET: apply could never read it back (5,000 users: "Zoom answered 204 but kept the
    # old value"), so it reaches no group
    personal = ("schedule_meeting", "personal_meeting")
    assert lock_for("account", "general", personal) is None
    assert not reachable("group", "general", personal)
    assert reachable("user", "general", personal)
    unlockable = ("in_meeting", "virtual_background_settings", "allow_videos")
    assert not reachable("group", "general", unlockable)


def test_a_rule_the_repo_excepts_is_not_remedied(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "reconciler.yaml").write_text(
        "policies:\n  - pack: zoom-security-baseline\n    except: [zsb-lobby-locked]\n",
        encoding="utf-8",
    )
    asyncio.run(prepare_sandbox(repo, tenant=generate_tenant(12, 2, 7)))
    done = run("export", str(repo), "--sandbox", "--quiet", "--remedy", "zoom-security-baseline")
    assert done.exit_code == 0, done.output
    remedied = {line.split(":")[0] for line in done.stderr.splitlines() if "remedy of" in line}
    # without the except, this tenant fails zsb-lobby-locked at the account (the next test)
    assert "remedy of zoom-security-baseline/zsb-waiting-room" in remedied
    assert "remedy of zoom-security-baseline/zsb-lobby-locked" not in remedied


def test_level_group_puts_what_users_need_in_each_group(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "reconciler.yaml").write_text("policies: [zoom-security-baseline]\n", encoding="utf-8")
    asyncio.run(prepare_sandbox(repo, tenant=generate_tenant(12, 2, 7)))
    done = run(
        "export", str(repo), "--sandbox", "--quiet", "--remedy", "zoom-security-baseline",
        "--level", "group",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    lines = done.stderr.splitlines()
    users_rule = next(s for s in lines if "/zsb-user-keeps-waiting-room:" in s)
    spots = re.findall(r"([^\s,]+):\d+ ([^\s,]+)", users_rule.split("target(s): ", 1)[1])
    assert spots == [
        ("groups/Engineering.yaml", "meeting_security.waiting_room"),
        ("groups/Engineering.yaml", "locks.meeting_security.waiting_room"),
        ("groups/Sales.yaml", "meeting_security.waiting_room"),
        ("groups/Sales.yaml", "locks.meeting_security.waiting_room"),
    ]
    # an account-level rule still needs the account's own value
    lobby = next(s for s in lines if "/zsb-lobby-locked:" in s)
    assert "account.yaml:" in lobby
    assert run("validate", str(repo)).exit_code == 0


def test_the_audit_report_lists_the_manual_steps_with_where_to_set_them(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "reconciler.yaml").write_text(f"policies: [{CIS}]\n", encoding="utf-8")
    asyncio.run(prepare_sandbox(repo, tenant=generate_tenant(12, 2, 7)))
    done = run("audit", str(repo), "--sandbox", "--quiet", "--format", "markdown")
    assert done.exit_code == 2
    lines = done.stdout.splitlines()
    heading = "#### Manual steps (no API can fix these; `export --remedy` lists them too)"
    start = lines.index(heading)
    steps = lines[start + 2 : lines.index("", start + 2)]
    assert steps == [
        "- `cis-zoom-1.0/cis-1.1.2.6-group` at group level: for a group: User Management \\>"
        " Groups \\> the group \\> Meeting \\> Schedule Meeting \\> Use Personal Meeting ID (PMI)"
        " when scheduling a meeting: off (the group API has no such field)",
        "- `cis-zoom-1.0/cis-1.1.4.3.3` at group level: for a group: User Management \\> Groups"
        " \\> the group \\> Meeting \\> In Meeting (Advanced) \\> Virtual background \\> Allow"
        " users to upload custom backgrounds: off (the group API has no such field)",
    ]
    report = json.loads(run("audit", str(repo), "--sandbox", "--quiet", "--format", "json").stdout)
    rule = next(r for r in report["rules"] if r["id"] == "cis-zoom-1.0/cis-1.1.2.6-group")
    assert rule["manual_levels"] == ["group"]
    assert rule["portal"].startswith("for a group: User Management > Groups")
