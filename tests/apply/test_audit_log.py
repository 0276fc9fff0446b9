"""The audit log on real files: run ids, links and odd files refused, unwritable places named in
one line, torn lines fenced, and a failed write poisoning the log.

Only the OS boundary (`os.write`) is ever patched, as a stand-in for a full disk; a second
full-disk test fills a real 16 KiB tmpfs when this machine lets the tests mount one.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reconciler import __version__
from reconciler.apply.audit_log import (
    FENCE_NOTE,
    AuditLog,
    audit_log_path,
    check_audit_log,
)
from reconciler.errors import AuditLogError

RUN = "0123456789abcdef"


def lines(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def one_line(error: pytest.ExceptionInfo[AuditLogError]) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return audit_log_path(tmp_path, None)


# -- lines --------------------------------------------------------------------------------------


def test_every_line_carries_the_run_id_time_commit_and_version(log: Path) -> None:
    check_audit_log(log)
    with AuditLog(log, "abc123", RUN) as audit:
        audit.write({"result": "sending"})
    with AuditLog(log, "abc123", "fedcba9876543210") as audit:
        audit.write({"result": "applied"})
    first, second = lines(log)
    assert first["run_id"] == RUN and second["run_id"] == "fedcba9876543210"
    assert first["repo_commit"] == "abc123" and first["tool_version"] == __version__
    assert first["time"].endswith("+00:00") and first["result"] == "sending"
    assert log.stat().st_mode & 0o777 == 0o600


def test_check_creates_the_folder_and_an_empty_log(tmp_path: Path) -> None:
    log = tmp_path / "deep" / "er" / "audit.log"
    check_audit_log(log)
    assert log.read_bytes() == b""


# -- where the log may live ---------------------------------------------------------------------


def test_the_default_lies_in_the_repos_reconciler_folder(tmp_path: Path) -> None:
    assert audit_log_path(tmp_path, None) == tmp_path / ".reconciler" / "audit.log"


def test_an_explicit_path_is_taken_as_given(tmp_path: Path) -> None:
    elsewhere = tmp_path.parent / "elsewhere.log"
    assert audit_log_path(tmp_path / "repo", elsewhere) == elsewhere


def test_a_reconciler_folder_linked_outside_the_repo_is_refused(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    repo.mkdir()
    outside.mkdir()
    (repo / ".reconciler").symlink_to(outside)
    with pytest.raises(AuditLogError) as error:
        audit_log_path(repo, None)
    text = one_line(error)
    assert str(outside / "audit.log") in text and "--audit-log PATH" in text
    assert audit_log_path(repo, outside / "audit.log") == outside / "audit.log"


# -- links and odd files ------------------------------------------------------------------------


def test_a_link_at_the_path_is_refused_and_its_target_untouched(log: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    log.parent.mkdir()
    log.symlink_to(target)
    with pytest.raises(AuditLogError) as error:
        check_audit_log(log)
    assert one_line(error) == (
        f"{log} is a symbolic link: the audit log is never written through a link; "
        "remove it (or pass --audit-log PATH)"
    )
    assert target.read_text() == "keep me\n"


def test_a_link_made_after_the_check_is_not_followed(log: Path, tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me\n")
    check_audit_log(log)
    log.unlink()
    log.symlink_to(target)
    with pytest.raises(AuditLogError, match="is a symbolic link"), AuditLog(log, None, RUN):
        pytest.fail("the log opened through a link")
    assert target.read_text() == "keep me\n"


def test_a_dangling_link_does_not_create_its_target(log: Path, tmp_path: Path) -> None:
    target = tmp_path / "created-through-the-link"
    log.parent.mkdir()
    log.symlink_to(target)
    for attempt in (lambda: check_audit_log(log), lambda: AuditLog(log, None, RUN).__enter__()):
        with pytest.raises(AuditLogError, match="is a symbolic link"):
            attempt()
    assert not target.exists()


def test_a_folder_at_the_path_is_refused(log: Path) -> None:
    log.mkdir(parents=True)
    with pytest.raises(AuditLogError) as error:
        check_audit_log(log)
    assert one_line(error).startswith(f"{log} is not a regular file")


def test_a_fifo_at_the_path_is_refused_without_blocking(log: Path) -> None:
    log.parent.mkdir()
    os.mkfifo(log)
    with pytest.raises(AuditLogError, match="is not a regular file"):
        check_audit_log(log)
    with pytest.raises(AuditLogError, match="is not a regular file"), AuditLog(log, None, RUN):
        pytest.fail("the log opened a FIFO")


# -- places that cannot be written --------------------------------------------------------------


def test_a_folder_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    log = tmp_path / "file" / "audit.log"
    with pytest.raises(AuditLogError) as error:
        check_audit_log(log)
    assert one_line(error) == (
        f"cannot write the audit log {log}: {log.parent} is not a folder "
        "(remove it, or pass --audit-log PATH)"
    )


def test_a_grandparent_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    log = tmp_path / "file" / "sub" / "audit.log"
    with pytest.raises(AuditLogError) as error:
        check_audit_log(log)
    assert one_line(error) == (
        f"cannot write the audit log {log}: Not a directory "
        "(a part of the path is a file: fix the path, or pass --audit-log PATH)"
    )


def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into a 0o500 folder; the read-only mount test covers root")
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    log = folder / "audit.log"
    try:
        with pytest.raises(AuditLogError) as error:
            check_audit_log(log)
    finally:
        folder.chmod(0o700)
    assert one_line(error) == (
        f"cannot write the audit log {log}: Permission denied "
        "(check the folder's permissions, or pass --audit-log PATH)"
    )


@contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    try:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        pytest.skip("no mount command on this machine")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_read_only_file_system_is_refused(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=16k") as folder:
        log = folder / "audit.log"
        with pytest.raises(AuditLogError) as error:
            check_audit_log(log)
    assert one_line(error) == (
        f"cannot write the audit log {log}: Read-only file system "
        "(mount it writable, or pass --audit-log PATH)"
    )


# -- torn lines ---------------------------------------------------------------------------------


def test_a_torn_last_line_is_fenced_and_every_later_line_parses(log: Path) -> None:
    whole = json.dumps({"run_id": "earlier", "result": "sending"})
    torn = '{"run_id": "earlier", "resu'
    log.parent.mkdir()
    log.write_text(f"{whole}\n{torn}")
    with AuditLog(log, "abc123", RUN) as audit:
        audit.write({"result": "applied"})
    text = log.read_text().splitlines()
    assert text[:2] == [whole, torn]
    fence, after = (json.loads(line) for line in text[2:])
    assert fence["result"] == "fenced" and fence["note"] == FENCE_NOTE
    assert fence["run_id"] == RUN and "time" in fence
    assert after["result"] == "applied"


@pytest.mark.parametrize("content", ["", '{"result": "applied"}\n'])
def test_a_log_of_whole_lines_gets_no_fence(log: Path, content: str) -> None:
    log.parent.mkdir()
    log.write_text(content)
    with AuditLog(log, None, RUN) as audit:
        audit.write({"result": "sending"})
    assert [line["result"] for line in lines(log)] == [
        *(["applied"] if content else []),
        "sending",
    ]


# -- writes -------------------------------------------------------------------------------------


def test_a_short_write_is_completed(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:7])))
    with AuditLog(log, None, RUN) as audit:
        audit.write({"result": "sending", "body": {"x": "y" * 50}})
    assert lines(log)[0]["body"] == {"x": "y" * 50}


def test_a_full_disk_poisons_the_log(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def full(fd: int, data: bytes) -> int:
        calls.append(fd)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    expected = f"cannot write the audit log {log}: No space left on device; nothing more is sent"
    with AuditLog(log, None, RUN) as audit:
        audit.write({"result": "sending"})
        monkeypatch.setattr(os, "write", full)
        with pytest.raises(AuditLogError) as error:
            audit.write({"result": "applied"})
        assert one_line(error) == expected
        before = log.read_bytes()
        with pytest.raises(AuditLogError) as again:
            audit.write({"result": "sending"})
        assert str(again.value) == expected
    assert len(calls) == 1, "the poisoned log tried to write again"
    assert log.read_bytes() == before
    assert [line["result"] for line in lines(log)] == ["sending"]


def test_a_real_full_disk_poisons_the_log_and_the_next_run_fences(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "size=16k") as folder:
        log, filler = folder / "audit.log", folder / "filler"
        filler.write_bytes(b"x" * 4096)  # one page, freed later for the next run's fence
        with AuditLog(log, None, RUN) as audit, pytest.raises(AuditLogError) as error:
            for _ in range(100):
                audit.write({"result": "sending", "body": "y" * 900})
        assert one_line(error) == (
            f"cannot write the audit log {log}: No space left on device; nothing more is sent"
        )
        with pytest.raises(AuditLogError, match="No space left"):
            audit.write({"result": "sending"})
        assert not log.read_bytes().endswith(b"\n"), "the disk filled up between two lines"
        filler.unlink()
        with AuditLog(log, None, "next") as audit:
            audit.write({"result": "applied"})
        text = log.read_text().splitlines()
    fence = next(i for i, line in enumerate(text) if '"fenced"' in line)
    for line in text[: fence - 1]:
        json.loads(line)
    assert [json.loads(line)["result"] for line in text[fence:]] == ["fenced", "applied"]
