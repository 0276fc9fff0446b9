"""A hostile settings repo: links, named pipes, devices and folders where files belong are refused,
and nothing behind them is read. Links and pipes cannot live in git, so each test makes its own
at run time (a folder named like a file is golden case 67-folder-as-settings-file)."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.desired.repo import FileTree, Refused
from tests.desired.test_cases import validate

ALICE = "settings:\n  in_meeting:\n    chat: true\n"
REGULAR = "settings files must be regular files in the repo"
LINK_HINT = "(hint: replace the link with the file itself; links are refused wherever they point)"
OUTSIDE = f"is a symbolic link (to outside the repo): {REGULAR} {LINK_HINT}"
INSIDE = f"is a symbolic link (to a path inside the repo): {REGULAR} {LINK_HINT}"
# Time enough for the CLI to start; a read of a pipe or of /dev/zero would never end.
CLI_TIMEOUT = 60


def make_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "users").mkdir(parents=True)
    (root / "users" / "alice@acme.test.yaml").write_text(ALICE, encoding="utf-8")
    return root


def run_cli(where: Path, *args: str, **env: str) -> tuple[int, str]:
    """The CLI in a process of its own, so that a hang is a timeout and not a stuck test run."""
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=where,
        env={**os.environ, "GITHUB_ACTIONS": "", **env},
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
def alarm() -> Iterator[None]:
    """Fail, not hang, if a read blocks."""
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the read blocked"))
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_a_link_to_etc_passwd_is_refused_unread(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    (root / "users" / "bob@acme.test.yaml").symlink_to("/etc/passwd")
    code, output = validate(tmp_path, "repo")
    assert (code, output) == (1, f"users/bob@acme.test.yaml:1:1: {OUTSIDE}\n1 problem in 1 file\n")
    assert "root:" not in output


def test_a_link_to_a_secrets_file_outside_the_repo_is_refused_unread(tmp_path: Path) -> None:
    # Were it read, the wrong value would be quoted back in the message.
    secret = tmp_path / "secrets.yaml"
    secret.write_text("settings:\n  in_meeting:\n    chat: hunter2-secret\n", encoding="utf-8")
    root = make_repo(tmp_path)
    (root / "users" / "carol@acme.test.yaml").symlink_to("../../secrets.yaml")
    code, output = validate(tmp_path, "repo")
    assert (code, output) == (
        1,
        f"users/carol@acme.test.yaml:1:1: {OUTSIDE}\n1 problem in 1 file\n",
    )
    assert "hunter2" not in output


def test_links_inside_the_repo_and_dangling_ones_are_refused_too(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    (root / "users" / "dan@acme.test.yaml").symlink_to("alice@acme.test.yaml")
    (root / "users" / "eve@acme.test.yaml").symlink_to("nowhere.yaml")
    code, output = validate(tmp_path, "repo")
    assert (code, output.splitlines()) == (
        1,
        [
            f"users/dan@acme.test.yaml:1:1: {INSIDE}",
            f"users/eve@acme.test.yaml:1:1: {INSIDE}",
            "2 problems in 2 files",
        ],
    )


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux's /proc")
def test_defaults_linked_to_proc_self_environ_is_refused_unread(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    (root / "defaults.yaml").symlink_to("/proc/self/environ")
    code, output = run_cli(tmp_path, "validate", "repo", LEAK_MARKER="do-not-print-me")
    assert (code, output) == (1, f"defaults.yaml:1:1: {OUTSIDE}\n1 problem in 1 file\n")
    assert "do-not-print-me" not in output


def test_account_linked_to_dev_zero_fails_fast(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    (root / "account.yaml").symlink_to("/dev/zero")
    code, output = run_cli(tmp_path, "validate", "repo")
    assert (code, output) == (1, f"account.yaml:1:1: {OUTSIDE}\n1 problem in 1 file\n")


def test_a_named_pipe_for_account_yaml_fails_fast(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    os.mkfifo(root / "account.yaml")
    code, output = run_cli(tmp_path, "validate", "repo")
    assert (code, output) == (
        1,
        f"account.yaml:1:1: is a named pipe (FIFO): {REGULAR} (hint: replace it with a regular"
        " file)\n1 problem in 1 file\n",
    )


def test_a_device_node_is_refused(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    try:
        os.mknod(root / "account.yaml", stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero's
    except (PermissionError, OSError):
        pytest.skip("cannot make a device node here")
    code, output = validate(tmp_path, "repo")
    assert (code, output) == (
        1,
        f"account.yaml:1:1: is a device: {REGULAR} (hint: replace it with a regular file)\n"
        "1 problem in 1 file\n",
    )


def test_linked_folders_are_refused_and_not_listed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "Sales.yaml").write_text(ALICE, encoding="utf-8")
    (root / "groups").symlink_to(tmp_path / "elsewhere")
    (root / "users").symlink_to("/etc")
    code, output = validate(tmp_path, "repo")
    hint = "(hint: replace the link with the folder itself; links are refused wherever they point)"
    assert (code, output.splitlines()) == (
        1,
        [
            "groups:1:1: is a symbolic link (to outside the repo): groups/ must be a folder in"
            f" the repo {hint}",
            "users:1:1: is a symbolic link (to outside the repo): users/ must be a folder in the"
            f" repo {hint}",
            "2 problems in 2 files",
        ],
    )


def test_a_folder_on_the_way_to_the_defaults_file_must_not_be_a_link(tmp_path: Path) -> None:
    root = make_repo(tmp_path)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "defaults.yaml").write_text(ALICE, encoding="utf-8")
    (root / "reconciler.yaml").write_text("defaults_file: config/defaults.yaml\n")
    (root / "config").symlink_to(tmp_path / "shared")
    code, output = validate(tmp_path, "repo")
    assert (code, output) == (1, f"config:1:1: {OUTSIDE}\n1 problem in 1 file\n")


# -- what is opened is checked again: a swap after the first look is refused as well -------------


def test_reading_a_link_directly_is_refused_by_o_nofollow(tmp_path: Path) -> None:
    (tmp_path / "account.yaml").symlink_to("/etc/passwd")
    with pytest.raises(Refused, match="is a symbolic link"):
        FileTree(tmp_path).read("account.yaml", 1024)


@pytest.mark.usefixtures("alarm")
def test_reading_a_named_pipe_directly_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "account.yaml")
    with pytest.raises(Refused, match=r"is a named pipe \(FIFO\)"):
        FileTree(tmp_path).read("account.yaml", 1024)


@pytest.mark.usefixtures("alarm")
def test_reading_dev_zero_directly_reads_nothing() -> None:
    with pytest.raises(Refused, match="is a device"):
        FileTree(Path("/dev")).read("zero", 1024)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_reads_stop_at_the_limit_whatever_the_size_said() -> None:
    assert os.stat("/proc/self/status").st_size == 0  # /proc reports no size
    with pytest.raises(Refused, match="the file is over the limit of 16 bytes"):
        FileTree(Path("/proc/self")).read("status", 16)
