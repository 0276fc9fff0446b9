"""The run lock across real processes: a holder in a child process takes the lock, says "held",
and keeps it until its stdin closes (or it is killed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.apply.runlock import RunLock, new_run_id, run_lock_path
from reconciler.errors import RunLocked

HOLDER = """
import sys
from pathlib import Path
from reconciler.apply.runlock import RunLock
with RunLock(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    sys.stdin.read()
"""
HOLDER_RUN = "feedfacecafebeef"


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    return run_lock_path(tmp_path, "acct-1")


@pytest.fixture
def holder(lock: Path) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock), HOLDER_RUN],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stdout.readline() == "held\n"
        yield process
        process.kill()


def test_the_lock_path_is_per_account_and_sanitised(tmp_path: Path) -> None:
    assert run_lock_path(tmp_path, "aB_9-x") == tmp_path / ".reconciler" / "apply-aB_9-x.lock"
    assert run_lock_path(tmp_path, "../x y") == tmp_path / ".reconciler" / "apply-___x_y.lock"


def test_run_ids_are_short_random_hex() -> None:
    ids = {new_run_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(run) == 16 and int(run, 16) >= 0 for run in ids)


def test_the_holder_is_recorded_and_the_file_kept(lock: Path) -> None:
    with RunLock(lock, "0123456789abcdef"):
        holder = json.loads(lock.read_text())
        assert holder["pid"] == os.getpid() and holder["run_id"] == "0123456789abcdef"
        assert holder["started"].endswith("Z")
    assert lock.exists()
    with RunLock(lock, "again"):  # released on exit
        pass


def test_a_second_apply_is_refused_at_once_naming_the_holder(
    lock: Path, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(RunLocked) as error, RunLock(lock, new_run_id()):
        pytest.fail("took a held lock")
    assert time.monotonic() - started < 1
    text = str(error.value)
    assert "\n" not in text
    assert text.startswith("another apply of this repo and account is running (pid ")
    assert f"pid {holder.pid}, started " in text and f"run {HOLDER_RUN}; lock file {lock})" in text
    assert text.endswith("wait for it to finish, or pass --lock-timeout SECONDS to wait")


def test_a_timeout_that_passes_says_so(lock: Path, holder: subprocess.Popen[str]) -> None:
    started = time.monotonic()
    with (
        pytest.raises(RunLocked, match=r"to wait longer than 0\.5 s$"),
        RunLock(lock, "w", timeout=0.5),
    ):
        pytest.fail("took a held lock")
    assert time.monotonic() - started >= 0.5


def test_a_holders_line_that_does_not_parse_is_not_shown(
    lock: Path, holder: subprocess.Popen[str]
) -> None:
    lock.write_text("not json, maybe a secret")
    with pytest.raises(RunLocked) as error, RunLock(lock, "w"):
        pytest.fail("took a held lock")
    assert "(held by another process; lock file" in str(error.value)
    assert "secret" not in str(error.value)


def test_a_timeout_longer_than_the_holder_waits_and_takes_it(
    lock: Path, holder: subprocess.Popen[str]
) -> None:
    assert holder.stdin is not None
    threading.Timer(0.5, holder.stdin.close).start()
    started = time.monotonic()
    with RunLock(lock, "waiter", timeout=30):
        assert json.loads(lock.read_text())["run_id"] == "waiter"
    assert 0.4 <= time.monotonic() - started < 30
    assert holder.wait(10) == 0


def test_a_killed_holder_releases_the_lock(lock: Path, holder: subprocess.Popen[str]) -> None:
    holder.send_signal(signal.SIGKILL)
    assert holder.wait(10) == -signal.SIGKILL
    with RunLock(lock, "after"):  # timeout 0: at once, or RunLocked
        assert json.loads(lock.read_text())["pid"] == os.getpid()


def test_a_link_at_the_lock_path_is_refused(lock: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    lock.parent.mkdir()
    lock.symlink_to(target)
    with pytest.raises(RunLocked) as error, RunLock(lock, "x"):
        pytest.fail("took the lock through a link")
    assert str(error.value) == (
        f"the run lock {lock} is a symbolic link: the lock is never taken through a link; remove it"
    )
    assert target.read_text() == "keep me\n"
