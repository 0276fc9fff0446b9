"""`reconciler export` against the sandbox: a round trip from an empty folder, in-place updates
that keep a hand-written file's comments, and remediation that an audit then confirms."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.desired import load_repo
from reconciler.desired.repo import settings_path_problem
from reconciler.diff import lookup, strictly_equal
from reconciler.sandbox import generate_tenant
from reconciler.sandbox.effective import Resolver
from reconciler.sandbox.tenant import Tenant
from reconciler.shapes import repo_shape
from reconciler.vocab import Family
from tests.plan.sandbox_repo import commit_all, git, git_repo, open_app, prepare_sandbox, send_all
from tests.policy.test_seeded_tenant import seeded


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def live(resolver: Resolver, level: str, holder: Any, family: Family) -> dict[str, Any]:
    if level == "account":
        return repo_shape(family, resolver.account_settings(family))
    if level == "group":
        return repo_shape(family, resolver.group_settings(holder, family))
    return repo_shape(family, resolver.user_settings(holder, family))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Tenant]:
    repo = tmp_path_factory.mktemp("export") / "repo"
    repo.mkdir()
    tenant = generate_tenant(users=500, groups=6, seed=3)
    asyncio.run(prepare_sandbox(repo, tenant=tenant))
    done = run("export", str(repo), "--sandbox", "--quiet")
    assert done.exit_code == 0, done.output
    return repo, tenant


def test_an_export_validates_and_plans_to_nothing(exported: tuple[Path, Tenant]) -> None:
    repo, _tenant = exported
    assert run("validate", str(repo)).exit_code == 0
    plan = run("plan", str(repo), "--sandbox", "--quiet", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert "No changes. Zoom matches the settings repo." in plan.stdout


def test_every_file_starts_with_its_schema_header(exported: tuple[Path, Tenant]) -> None:
    repo, _tenant = exported
    assert (
        (repo / "account.yaml")
        .read_text()
        .startswith("# yaml-language-server: $schema=schemas/repo/account.schema.json\n")
    )
    for path in [*(repo / "users").iterdir(), *(repo / "groups").iterdir()]:
        kind = path.parent.name[:-1]
        header = f"# yaml-language-server: $schema=../schemas/repo/{kind}.schema.json\n"
        assert path.read_text().startswith(header), path
    assert (repo / "schemas" / "repo" / "user.schema.json").is_file()


def test_the_files_hold_only_what_differs_from_what_each_target_inherits(
    exported: tuple[Path, Tenant],
) -> None:
    repo, tenant = exported
    state = load_repo(repo)
    resolver = Resolver(tenant)
    redundant = []
    keys = 0
    for name, group in state.groups.items():
        for family in group.settings.families:
            above = live(resolver, "account", None, family)
            for path, value in group.settings.flat(family).items():
                keys += 1
                if strictly_equal(lookup(above, path), value):
                    redundant.append((name, family, path))
    for email, user in state.users.items():
        holder = tenant.user(email)
        assert holder is not None
        primary = tenant.groups.get(holder.group_ids[0]) if holder.group_ids else None
        for family in user.settings.families:
            above = (
                live(resolver, "group", primary, family)
                if primary
                else live(resolver, "account", None, family)
            )
            own = live(resolver, "user", holder, family)
            for path, value in user.settings.flat(family).items():
                keys += 1
                assert strictly_equal(lookup(own, path), value), (email, path)
                if strictly_equal(lookup(above, path), value):
                    redundant.append((email, family, path))
    assert redundant == []
    assert keys > 100  # the tenant's overrides are many; the test would pass on an empty repo
    # Users who differ in nothing inheritable have no file at all.
    active = [u for u in tenant.users if u.status == "active"]
    assert len(state.users) < len(active)


def test_all_fields_writes_every_settable_field_of_a_family(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    asyncio.run(prepare_sandbox(repo))
    done = run(
        "export", str(repo), "--sandbox", "--quiet", "--users", "carol@acme.test",
        "--families", "meeting_security",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in repo.iterdir()) == [".reconciler"]  # she inherits it all
    done = run(
        "export", str(repo), "--sandbox", "--quiet", "--all-fields",
        "--users", "carol@acme.test", "--families", "meeting_security",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    carol = load_repo(repo).users["carol@acme.test"].settings
    assert carol.families == ("meeting_security",)
    assert len(carol.flat("meeting_security")) > 10
    names = sorted(p.name for p in repo.iterdir())
    assert names == [".gitignore", ".reconciler", "schemas", "users"]


HAND_WRITTEN = {
    "account.yaml": """\
# yaml-language-server: $schema=schemas/repo/account.schema.json
# The account: what everyone inherits.

settings:
  in_meeting:
    chat: true   # chat stays on
    polling: false
  # recording is decided by legal
  recording:
    cloud_recording: true
""",
    "groups/Sales.yaml": """\
# Sales keeps its own audio.
settings:
  schedule_meeting:
    audio_type: "both"
""",
    "users/alice@acme.test.yaml": """\
settings:
  in_meeting:
    chat: false  # alice prefers mail
""",
    "users/bob@acme.test.yaml": """\
# Bob

settings:
  in_meeting:
    annotation: true
""",
}


def test_managed_only_changes_exactly_the_lines_whose_value_moved(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for name, text in HAND_WRITTEN.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    asyncio.run(prepare_sandbox(repo))
    git_repo(repo)
    assert run("export", str(repo), "--sandbox", "--quiet", "--managed-only").exit_code == 0
    commit_all(repo, "in step with Zoom")
    synced = {name: (repo / name).read_text() for name in HAND_WRITTEN}
    state = load_repo(repo)
    values = {
        "polling": state.account.settings.flat("general")[("in_meeting", "polling")],  # type: ignore[union-attr]
        "cloud": state.account.settings.flat("general")[("recording", "cloud_recording")],  # type: ignore[union-attr]
        "alice": state.users["alice@acme.test"].settings.flat("general")[("in_meeting", "chat")],
        "bob": state.users["bob@acme.test"].settings.flat("general")[("in_meeting", "annotation")],
    }
    audio = state.groups["Sales"].settings.flat("general")[("schedule_meeting", "audio_type")]
    new_audio = "telephony" if audio != "telephony" else "voip"
    changes = [
        ("/v2/accounts/me/settings", {"in_meeting": {"polling": not values["polling"]}}),
        ("/v2/accounts/me/settings", {"recording": {"cloud_recording": not values["cloud"]}}),
        ("/v2/groups/{group:Sales}/settings", {"schedule_meeting": {"audio_type": new_audio}}),
        ("/v2/users/{user:alice}/settings", {"in_meeting": {"chat": not values["alice"]}}),
        ("/v2/users/{user:bob}/settings", {"in_meeting": {"annotation": not values["bob"]}}),
    ]
    asyncio.run(
        send_all(open_app(repo), [{"method": "PATCH", "path": p, "body": b} for p, b in changes])
    )
    done = run("export", str(repo), "--sandbox", "--quiet", "--managed-only")
    assert done.exit_code == 0, done.output
    diff = git(repo, "diff", "-U0", "--no-color")
    changed = [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
    assert len(changed) == 10, diff  # five lines out, five in
    word = {True: "true", False: "false"}
    assert f"-    polling: {word[values['polling']]}" in changed
    assert f"+    polling: {word[not values['polling']]}" in changed
    assert f'+    audio_type: "{new_audio}"' in changed  # the double quotes stay
    assert f"+    chat: {word[not values['alice']]}  # alice prefers mail" in changed
    for name, before in synced.items():
        after = (repo / name).read_text()
        comments = [line for line in before.splitlines() if "#" in line and ":" not in line]
        assert all(line in after.splitlines() for line in comments), name
    assert run("plan", str(repo), "--sandbox", "--quiet", "--detailed-exitcode").exit_code == 0


def test_remedies_make_the_rules_pass_after_apply(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    tenant, _breaking = seeded()
    asyncio.run(prepare_sandbox(repo, tenant=tenant))
    before = json.loads(
        run("audit", str(repo), "--sandbox", "--quiet", "--format", "json",
            "--policy", "zoom-security-baseline").stdout
    )  # fmt: skip
    failing = {r["id"] for r in before["rules"] if r["counts"]["fail"]}
    assert "zoom-security-baseline/zsb-user-keeps-waiting-room" in failing
    done = run("export", str(repo), "--sandbox", "--quiet", "--remedy", "zoom-security-baseline")
    assert done.exit_code == 0, done.output
    for code in sorted(failing):
        assert f"remedy of {code}:" in done.stderr
    assert run("validate", str(repo)).exit_code in (0, 3)  # valid; may still break other rules
    applied = run("apply", str(repo), "--sandbox", "--yes", "--quiet")
    assert applied.exit_code == 0, applied.output
    after = json.loads(
        run("audit", str(repo), "--sandbox", "--quiet", "--format", "json",
            "--policy", "zoom-security-baseline").stdout
    )  # fmt: skip
    still = {r["id"]: r["counts"]["fail"] for r in after["rules"] if r["counts"]["fail"]}
    assert still == {}
    assert [f for f in after["findings"] if f["kind"] == "policy"] == []


def test_a_dry_run_writes_nothing_and_says_what_it_would(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    asyncio.run(prepare_sandbox(repo))
    done = run("export", str(repo), "--sandbox", "--quiet", "--dry-run", "--account")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("account.yaml\n  + settings.")
    assert done.stdout.endswith("\n.gitignore\n  + .reconciler/\n")
    assert "2 file(s) would change" in done.stderr  # account.yaml and .gitignore
    assert sorted(p.name for p in repo.iterdir()) == [".reconciler"]


def test_a_new_repo_gets_a_gitignore_that_keeps_reconciler_state_out_of_git(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    done = run("export", str(repo), "--sandbox", "--quiet", "--account")
    assert done.exit_code == 0, done.output
    assert "2 file(s) changed" in done.stderr
    assert (repo / ".gitignore").read_text(encoding="utf-8") == (
        "# the run lock, snapshots and sandbox state of reconciler\n.reconciler/\n"
    )
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    tracked = git(repo, "ls-files").split()
    assert ".gitignore" in tracked
    assert not [name for name in tracked if name.startswith(".reconciler/")]


def test_a_gitignore_the_repo_has_is_left_as_it_is(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".gitignore").write_text("*.tmp\n", encoding="utf-8")
    done = run("export", str(repo), "--sandbox", "--quiet", "--account")
    assert done.exit_code == 0, done.output
    assert "1 file(s) changed" in done.stderr
    assert (repo / ".gitignore").read_text(encoding="utf-8") == "*.tmp\n"


def test_level_without_remedy_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    done = run("export", str(repo), "--sandbox", "--level", "account")
    assert done.exit_code == 1
    assert done.stderr == (
        "error: --level goes with --remedy PACK (the layer remedies are written at); drop it\n"
    )
    assert not repo.exists()


def test_conflicting_modes_are_refused_before_zoom_is_read(tmp_path: Path) -> None:
    done = run("export", str(tmp_path), "--sandbox", "--managed-only", "--all-fields")
    assert done.exit_code == 1
    assert done.stderr == (
        "error: --fields, --managed-only and --all-fields do not go together; pick one\n"
    )


@pytest.mark.parametrize(
    ("rel", "safe"),
    [
        ("account.yaml", True),
        ("users/a@acme.test.yaml", True),
        ("groups/Sales.yaml", True),
        ("users/../../etc/x.yaml", False),  # an email from Zoom with slashes
        ("users/a/b@acme.test.yaml", False),
        ("/etc/passwd", False),
        ("users/.hidden@acme.test.yaml", False),
        ("users/a\\b@acme.test.yaml", False),
    ],
)
def test_export_writes_only_where_the_loader_reads(rel: str, safe: bool) -> None:
    assert (settings_path_problem(rel) is None) is safe


def _example_copy(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(Path(__file__).resolve().parents[2] / "examples" / "acme", repo)
    asyncio.run(prepare_sandbox(repo))
    return repo


def test_fields_edits_only_the_fields_it_names(tmp_path: Path) -> None:
    """The example's live account differs from its files in a dozen keys (dave's
    cloud_recording, heidi's screen_sharing, mallory's join_before_host, ...): --fields
    brings back only those it names, whether the files name them or not."""
    repo = _example_copy(tmp_path)
    before = {p: p.read_bytes() for p in repo.rglob("*.yaml")}
    none = run(
        "export",
        str(repo),
        "--sandbox",
        "--quiet",
        "--dry-run",
        "--fields",
        "meeting_security.waiting_room",
    )
    assert (none.exit_code, none.stdout) == (0, "")
    assert none.stderr.startswith("0 file(s) would change (0 key(s)), 16 unchanged")
    one = run(
        "export",
        str(repo),
        "--sandbox",
        "--quiet",
        "--dry-run",
        "--fields",
        "settings.recording.cloud_recording",
    )
    assert one.exit_code == 0
    assert one.stdout == (
        "users/dave@acme.test.yaml\n"
        "  ~ settings.recording.cloud_recording: false -> true\n"
        ".gitignore\n"
        "  + .reconciler/\n"
    )
    assert {p: p.read_bytes() for p in repo.rglob("*.yaml")} == before


def test_no_file_gets_a_value_a_lock_above_holds(tmp_path: Path) -> None:
    """Seed 0's groups lock fields their members hold otherwise in Zoom: exported into user
    files, each was a BLOCKED change in the next plan (28 of 300 users; 127 of 1,500). They
    are inherited from the lock, so the files leave them out and the plan is empty."""
    repo = tmp_path / "repo"
    repo.mkdir()
    asyncio.run(prepare_sandbox(repo, tenant=generate_tenant(users=300, seed=0)))
    done = run("export", str(repo), "--sandbox", "--quiet")
    assert done.exit_code == 0, done.output
    assert run("validate", str(repo)).exit_code == 0
    plan = run("plan", str(repo), "--sandbox", "--quiet", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout[-2000:]
    assert plan.stdout.splitlines()[-1] == "No changes. Zoom matches the settings repo."
