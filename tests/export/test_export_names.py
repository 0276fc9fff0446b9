"""Export of names Zoom gives that no file may hold: each such target is left out with one warning
line (its id and its escaped name), two targets that would share one file are both left out, the
rest is exported, and what is written validates. A failure before the files move in leaves the
repo byte for byte as it was (a sandbox tenant doctored with hostile names; a late failure comes
from a stand-in rewriting the sandbox's answer at the HTTP boundary)."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.connect import Connector
from reconciler.desired import load_repo
from reconciler.export.engine import user_file
from reconciler.export.run import usable_targets
from reconciler.sandbox import acme_tenant
from reconciler.sandbox.tenant import Group, Tenant, User
from tests.plan.sandbox_repo import SANDBOX, prepare_sandbox

HOSTILE_USERS = {
    "u-nul": "nul\x00@acme.test",
    "u-space": "sp ace@acme.test",
    "u-newline": "new\nline@acme.test",
    "u-up": "../../etc/x@acme.test",
    "u-dot": ".dot@acme.test",
    "u-long": "u" * 250 + "@acme.test",
}
HOSTILE_GROUPS = {
    "g-slash": "a/b",
    "g-under": "a_b",
    "g-colon": "x:y",
    "g-query": "x?y",
    "g-dots": "..",
    "g-long": "L" * 300,
    "g-m1": "M" * 200 + "1",
    "g-m2": "M" * 200 + "2",
}
RENAME = "rename it in Zoom to export it"
BOTH = "none is exported (rename all but one in Zoom to export them)"
EXPECTED_WARNINGS = {
    "warning: not exported: user 'nul\\x00@acme.test' (id u-nul): the file name"
    f" 'nul\\x00@acme.test' holds a control, format or path-separator character; {RENAME}",
    "warning: not exported: user 'sp ace@acme.test' (id u-space): the file name"
    f" 'sp ace@acme.test' is not an email address; {RENAME}",
    "warning: not exported: user 'new\\nline@acme.test' (id u-newline): the file name"
    f" 'new\\nline@acme.test' holds a control, format or path-separator character; {RENAME}",
    "warning: not exported: user '../../etc/x@acme.test' (id u-up): the file name"
    f" 'users/../../etc/x@acme.test.yaml' is not directly in groups/ or users/; {RENAME}",
    "warning: not exported: user '.dot@acme.test' (id u-dot): the file name '.dot@acme.test'"
    f" starts with a dot or is a README, and those are not read; {RENAME}",
    f"warning: not exported: user '{'u' * 60}…' (id u-long): the file name '{'u' * 60}…'"
    f" is 265 bytes long with .yaml, over the 255 a file name may have; {RENAME}",
    "warning: not exported: group 'a/b' (id g-slash) and group 'a_b' (id g-under):"
    f" would both be written to groups/a_b.yaml; {BOTH}",
    "warning: not exported: group 'x:y' (id g-colon) and group 'x?y' (id g-query):"
    f" would both be written to groups/x_y.yaml; {BOTH}",
    f"warning: not exported: group '{'M' * 60}…' (id g-m1) and group '{'M' * 60}…' (id g-m2):"
    f" would both be written to groups/{'M' * 120}.yaml; {BOTH}",
}


def run(*args: str, connector: Connector = SANDBOX) -> Result:
    result = CliRunner().invoke(cli, list(args), obj=connector, env={"NO_COLOR": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


# Any run that proves the account's rate keeps it here (timing decides whether one does): tool
# state like the sandbox's, not a repo edit.
RATE_CACHE = ".reconciler/rate.json"


def tree_digest(root: Path) -> dict[str, str]:
    """Every file and folder under `root` with a hash of its bytes: what "unchanged" compares."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel == RATE_CACHE:
            continue
        found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def settings_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*.yaml") if ".reconciler" not in p.parts}


def with_chat_off(target: User | Group) -> User | Group:
    target.settings.family("general")[("in_meeting", "chat")] = False  # differs from the account
    return target


def hostile_tenant() -> Tenant:
    tenant = acme_tenant()
    for group_id, name in HOSTILE_GROUPS.items():
        tenant.groups[group_id] = with_chat_off(Group(group_id, name))  # type: ignore[assignment]
    for user_id, email in HOSTILE_USERS.items():
        tenant.add_user(with_chat_off(User(user_id, email, "Hostile", "Name")))  # type: ignore[arg-type]
    return tenant


def exported_files(tmp_path: Path, tenant: Tenant) -> set[str]:
    repo = tmp_path / "plain"
    repo.mkdir()
    asyncio.run(prepare_sandbox(repo, tenant=tenant))
    assert run("export", str(repo), "--sandbox", "--quiet").exit_code == 0
    return settings_files(repo)


def test_hostile_names_are_left_out_one_warning_each_and_the_rest_is_exported(
    tmp_path: Path,
) -> None:
    plain = exported_files(tmp_path, acme_tenant())
    repo = tmp_path / "repo"
    repo.mkdir()
    asyncio.run(prepare_sandbox(repo, tenant=hostile_tenant()))
    done = run("export", str(repo), "--sandbox", "--quiet")
    assert done.exit_code == 0, done.output
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == len(EXPECTED_WARNINGS)
    assert set(warnings) == EXPECTED_WARNINGS
    # '..' is a safe name with a group: key; the long name is cut, and says its name too.
    written = settings_files(repo)
    assert written == plain | {"groups/group.yaml", f"groups/{'L' * 120}.yaml"}
    # as many as there are, and the new repo's .gitignore
    assert (repo / ".gitignore").is_file()
    assert f"{len(written) + 1} file(s) changed" in done.stderr
    assert 'group: ".."' in (repo / "groups/group.yaml").read_text()
    kept = {p.name for p in (repo / ".reconciler").iterdir()} - {Path(RATE_CACHE).name}
    assert kept == {"sandbox.json"}
    checked = run("validate", str(repo))
    assert checked.exit_code == 0, checked.output


def test_a_dry_run_warns_the_same_and_writes_nothing(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    asyncio.run(prepare_sandbox(repo, tenant=hostile_tenant()))
    before = tree_digest(repo)
    done = run("export", str(repo), "--sandbox", "--quiet", "--dry-run")
    assert done.exit_code == 0, done.output
    assert {line for line in done.stderr.splitlines() if line.startswith("warning:")} == (
        EXPECTED_WARNINGS
    )
    assert tree_digest(repo) == before


def test_emails_that_differ_only_in_case_are_one_file_so_neither_is_written(
    tmp_path: Path,
) -> None:
    # The live directory keeps one user per email (the identity check is its own); the writer
    # still refuses two targets for one file, whichever way they came.
    state = load_repo(tmp_path)
    twins = [
        user_file(state, "Twin@acme.test", "u-upper"),
        user_file(state, "twin@acme.test", "u-lower"),
    ]
    skipped: list[str] = []
    assert usable_targets(state, twins, skipped) == []
    assert skipped == [
        "user 'Twin@acme.test' (id u-upper) and user 'twin@acme.test' (id u-lower):"
        f" would both be written to users/twin@acme.test.yaml; {BOTH}"
    ]


A_B_FILE = "settings:\n  in_meeting:\n    chat: true  # a_b's own, by hand\n"


def test_a_new_group_never_takes_the_file_of_a_group_the_repo_has(tmp_path: Path) -> None:
    tenant = acme_tenant()
    tenant.groups["g-slash"] = with_chat_off(Group("g-slash", "a/b"))  # type: ignore[assignment]
    repo = tmp_path / "repo"
    (repo / "groups").mkdir(parents=True)
    (repo / "groups" / "a_b.yaml").write_text(A_B_FILE)  # a_b: in the repo, not in Zoom
    asyncio.run(prepare_sandbox(repo, tenant=tenant))
    done = run("export", str(repo), "--sandbox", "--quiet", "--groups", "a/b")
    assert done.exit_code == 0, done.output
    assert done.stderr.splitlines()[-1] == (
        "warning: not exported: group 'a/b' (id g-slash): would be written to groups/a_b.yaml,"
        " the repo's file for group 'a_b'; it is not exported (rename it in Zoom to export it,"
        " or write its file by hand under another name with a group: key)"
    )
    assert (repo / "groups" / "a_b.yaml").read_text() == A_B_FILE
    assert settings_files(repo) == {"groups/a_b.yaml"}


# -- a failure before the move ------------------------------------------------------------------

HAND_WRITTEN = {
    "users/bob@acme.test.yaml": "settings:\n  in_meeting:\n    chat: true\n",  # live: false
    # A layout the loader reads and the writer cannot edit (live: true); mallory sorts after
    # every other file, so export renders all of those first.
    "users/mallory@acme.test.yaml": "settings:\n  in_meeting:\n    ? chat\n    : false\n",
}


def test_a_file_that_cannot_be_written_leaves_the_repo_as_it_was(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    for name, text in HAND_WRITTEN.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    asyncio.run(prepare_sandbox(repo))
    assert run("validate", str(repo)).exit_code == 0
    before = tree_digest(repo)
    done = run("export", str(repo), "--sandbox", "--quiet")
    assert done.exit_code == 1, done.output
    assert done.stderr == (
        "error: nothing was written: user 'mallory@acme.test' (id Erlni76xt4Ap3aAlr_uzBw): its"
        " file users/mallory@acme.test.yaml cannot be written: line 3: a key layout this writer"
        " cannot edit\n"
    )
    assert tree_digest(repo) == before  # bob's file, 15 new ones and the schemas: none of them


CONTROL = "holds a control, format or path-separator character"
USER_HINT = "name user files users/<email>.yaml, e.g. users/alice@example.com.yaml"
GROUP_HINT = "rename it; a group: key can hold any name"


@pytest.mark.parametrize(
    ("name", "line"),
    [
        (
            "users/a\x01b@acme.test.yaml",
            f"users/a\\x01b@acme.test.yaml:1:1: the file name 'a\\x01b@acme.test' {CONTROL}"
            f" (hint: {USER_HINT})",
        ),
        (
            "groups/Sales\\EU.yaml",
            f"groups/Sales\\EU.yaml:1:1: the file name 'Sales\\EU' {CONTROL} (hint: {GROUP_HINT})",
        ),
        (
            "groups/Sales\u202eEU.yaml",
            f"groups/Sales\\u202eEU.yaml:1:1: the file name 'Sales\\u202eEU' {CONTROL}"
            f" (hint: {GROUP_HINT})",
        ),
    ],
)
def test_the_loader_refuses_the_names_export_leaves_out(
    tmp_path: Path, name: str, line: str
) -> None:
    (tmp_path / name).parent.mkdir(parents=True)
    (tmp_path / name).write_text("settings:\n  in_meeting:\n    chat: true\n")
    done = run("validate", str(tmp_path))
    assert done.exit_code == 1
    assert done.stdout == line + "\n"
    assert done.stderr == "1 problem in 1 file\n"
