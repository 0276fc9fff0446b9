"""`--changed-since` against a revision that holds links or a submodule: they are problems of that
revision, so it is no base and everything is planned; a link is never followed, the old files are
read from git's objects up to the size limit, and there is never a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.desired.repo import load_tree
from reconciler.errors import ValidationFailed
from reconciler.plan.changed import _GitTree, load_repo_at
from tests.plan.sandbox_repo import commit_all, git, git_repo, prepare

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
SECRET = "settings:\n  in_meeting:\n    chat: hunter2-secret\n"
# Every target of the example: the account, three groups, twelve users.
TARGETS = 16


def acme_in_git(tmp_path: Path, folder: str = "repo") -> Path:
    """The example repo, committed, in `tmp_path/folder` (a subfolder of the git repo if nested)."""
    repo = tmp_path / folder
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".reconciler"))
    top = tmp_path / folder.split("/", maxsplit=1)[0]
    git_repo(top)
    commit_all(top, "acme")
    return repo


def plan_json(tmp_path: Path, repo: Path, *args: str) -> dict[str, Any]:
    """`reconciler plan REPO --sandbox --format json ARGS` as a user runs it, in its own process."""
    command = [sys.executable, "-m", "reconciler", "plan", str(repo), "--sandbox"]
    done = subprocess.run(
        [*command, "--format", "json", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    assert "root:" not in done.stdout + done.stderr
    assert "hunter2" not in done.stdout + done.stderr
    plan: dict[str, Any] = json.loads(done.stdout)
    return plan


def commit_links_then_remove_them(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "secret.yaml").write_text(SECRET, encoding="utf-8")
    absolute = repo / "users" / "zed@acme.test.yaml"
    relative = repo / "users" / "yan@acme.test.yaml"
    absolute.symlink_to("/etc/passwd")
    relative.symlink_to("../../secret.yaml")
    commit_all(repo, "links to outside the repo")
    absolute.unlink()
    relative.unlink()
    commit_all(repo, "no links")


def test_links_in_the_old_revision_make_it_no_base(tmp_path: Path) -> None:
    repo = acme_in_git(tmp_path)
    commit_links_then_remove_them(tmp_path, repo)
    assert load_repo_at(repo, "HEAD~1") is None
    assert load_repo_at(repo, "HEAD~2") is not None
    prepare(repo)
    plan = plan_json(tmp_path, repo, "--changed-since", "HEAD~1")
    assert plan["summary"]["targets_skipped_unchanged"] == 0


def test_a_clean_old_revision_is_still_a_base(tmp_path: Path) -> None:
    repo = acme_in_git(tmp_path)
    commit_links_then_remove_them(tmp_path, repo)
    prepare(repo)
    plan = plan_json(tmp_path, repo, "--changed-since", "HEAD~2")
    assert plan["summary"]["targets_skipped_unchanged"] == TARGETS


def test_a_link_the_loader_never_reads_does_not_spoil_the_revision(tmp_path: Path) -> None:
    # As in the work tree: only what the repo reads must be a regular file.
    repo = acme_in_git(tmp_path)
    (repo / "docs").mkdir()
    (repo / "docs" / "passwd").symlink_to("/etc/passwd")
    commit_all(repo, "a link beside the settings")
    state = load_repo_at(repo, "HEAD")
    assert state is not None
    assert len(state.users) == 12


def test_a_submodule_where_a_file_belongs_makes_the_revision_no_base(tmp_path: Path) -> None:
    repo = acme_in_git(tmp_path)
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{head},users/sub@acme.test.yaml")
    git(repo, "commit", "-q", "-m", "a submodule")
    assert load_repo_at(repo, "HEAD") is None


def test_an_old_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    repo = acme_in_git(tmp_path)
    padding = "".join(f"# {'x' * 70}\n" for _ in range(20))
    chat_off = "settings:\n  in_meeting:\n    chat: false\n"
    (repo / "users" / "zed@acme.test.yaml").write_text(padding + chat_off)
    commit_all(repo, "a file of 1.5 KiB")
    options = repo / "reconciler.yaml"
    options.write_text(options.read_text() + "max_file_bytes: 1024\n")
    commit_all(repo, "a limit of 1 KiB")
    assert load_repo_at(repo, "HEAD~1") is not None
    assert load_repo_at(repo, "HEAD") is None


def test_a_repo_in_a_subfolder_of_the_git_repo(tmp_path: Path) -> None:
    repo = acme_in_git(tmp_path, "top/settings")
    (repo / "users" / "zed@acme.test.yaml").symlink_to("/etc/passwd")
    commit_all(repo, "a link")
    (repo / "users" / "zed@acme.test.yaml").unlink()
    commit_all(repo, "no link")
    assert load_repo_at(repo, "HEAD~1") is None
    state = load_repo_at(repo, "HEAD~2")
    assert state is not None
    assert sorted(state.groups) == ["Engineering", "Sales", "Support"]


def test_the_old_revisions_problems_are_the_work_trees(tmp_path: Path) -> None:
    repo = acme_in_git(tmp_path)
    commit_links_then_remove_them(tmp_path, repo)
    commit = git(repo, "rev-parse", "HEAD~1").strip()
    with _GitTree(repo, f"{commit}:") as tree, pytest.raises(ValidationFailed) as failed:
        load_tree(tree, repo)
    refused = "settings files must be regular files in the repo (hint: replace the link with the"
    assert [str(found) for found in failed.value.problems] == [
        f"users/{name}@acme.test.yaml:1:1: is a symbolic link: {refused} file itself; links are"
        " refused wherever they point)"
        for name in ("yan", "zed")
    ]
