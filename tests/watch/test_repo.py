"""The watcher's desired state follows the repo's files: a changed file is loaded again, a file
that breaks the repo keeps the last good state."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from reconciler.watch.repo import WatchedRepo

USER = "users/alice@acme.test.yaml"


def _write(root: Path, text: str) -> None:
    path = root / USER
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    # The stamp is size and mtime: make each write visibly newer, whatever the clock's grain.
    stamp = path.stat().st_mtime_ns + 10**9 * (1 + len(text))
    os.utime(path, ns=(stamp, stamp))


def _polling(repo: WatchedRepo) -> object:
    settings = repo.current().users["alice@acme.test"].settings
    return settings.flat("general")[("in_meeting", "polling")]


def test_the_state_is_reloaded_when_a_file_changes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path, "settings:\n  in_meeting:\n    polling: true\n")
    repo = WatchedRepo(str(tmp_path))
    first = repo.current()
    assert repo.current() is first  # nothing changed: not loaded again
    _write(tmp_path, "settings:\n  in_meeting:\n    polling: false\n")
    with caplog.at_level(logging.INFO, "reconciler.watch"):
        assert _polling(repo) is False
    assert caplog.messages == [f"desired state reloaded: {USER} (changed)"]


def test_a_repo_that_breaks_keeps_the_last_good_state(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path, "settings:\n  in_meeting:\n    polling: true\n")
    repo = WatchedRepo(str(tmp_path))
    _write(tmp_path, "settings:\n  in_meeting:\n    polling: yes\n")
    with caplog.at_level(logging.INFO, "reconciler.watch"):
        assert _polling(repo) is True
    [message] = caplog.messages
    assert message.startswith("the settings repo no longer loads (")
    assert message.endswith("); still using the last good one")
