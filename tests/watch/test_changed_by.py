"""The watcher's record of who changed what (`last_change`), and the audit's reading of it: the
newest event per target and key wins, a lock event's keys are kept apart from the settings',
and a damaged record is one line, never a failed audit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from reconciler.audit.changed_by import WATCH_DB, ChangedBy, read_known_changes
from reconciler.watch.events import parse_delivery
from reconciler.watch.queue import EventQueue, queue_path
from tests.watch.deliveries import compact, settings_event

CHAT_OFF = {"in_meeting": {"chat": False}}


def _enqueue(root: Path, tracking: str, **fields: object) -> None:
    event = parse_delivery(compact(settings_event(**fields)), tracking)  # type: ignore[arg-type]
    with EventQueue(queue_path(root)) as queue:
        assert queue.enqueue(event)


def test_the_newest_event_per_field_names_who_changed_it(tmp_path: Path) -> None:
    _enqueue(tmp_path, "t-1", target_id="u1", settings=CHAT_OFF, event_ts=1_765_000_000_000)
    _enqueue(
        tmp_path,
        "t-2",
        target_id="u1",
        settings=CHAT_OFF,
        operator="later@example.test",
        event_ts=1_765_000_060_000,
    )
    # Zoom retries out of order: an older delivery arriving last changes nothing.
    _enqueue(
        tmp_path,
        "t-0",
        target_id="u1",
        settings=CHAT_OFF,
        operator="earlier@example.test",
        event_ts=1_764_999_000_000,
    )
    known = read_known_changes(tmp_path)
    assert known.problem is None
    assert known.of("user", "u1", "general", "in_meeting.chat", locks=False) == ChangedBy(
        operator="later@example.test",
        operator_id="op-1",
        changed_at="2025-12-06T05:47:40.000+00:00",
        event_id="t-2",
        event="user.settings_updated",
    )
    assert known.of("user", "u2", "general", "in_meeting.chat", locks=False) is None
    assert known.of("user", "u1", "general", "in_meeting.chat", locks=True) is None


def test_lock_events_and_meeting_security_keys_are_matched_by_their_own_shape(
    tmp_path: Path,
) -> None:
    _enqueue(
        tmp_path,
        "t-lock",
        name="account.lock_settings_updated",
        target_id="acct",
        settings={"schedule_meeting": {"host_video": True}},
    )
    _enqueue(
        tmp_path,
        "t-sec",
        name="group.settings_updated",
        target_id="g1",
        settings={"meeting_security": {"waiting_room": False}},
    )
    known = read_known_changes(tmp_path)
    lock = known.of("account", "acct", "general", "schedule_meeting.host_video", locks=True)
    assert lock is not None and lock.event == "account.lock_settings_updated"
    assert (
        known.of("account", "acct", "general", "schedule_meeting.host_video", locks=False) is None
    )
    security = known.of("group", "g1", "meeting_security", "waiting_room", locks=False)
    assert security is not None and security.event_id == "t-sec"


def test_no_record_is_nothing_known_and_a_damaged_one_is_one_line(tmp_path: Path) -> None:
    assert read_known_changes(tmp_path).changes == {}
    path = tmp_path / WATCH_DB
    path.parent.mkdir()
    path.write_bytes(b"not a database, " * 64)
    known = read_known_changes(tmp_path)
    assert known.changes == {}
    assert known.problem == (
        f"{path}: the watcher's record of who changed what cannot be read "
        "('file is not a database')"
    )


def test_a_row_not_of_the_watchers_shape_is_refused_whole(tmp_path: Path) -> None:
    _enqueue(tmp_path, "t-1")
    with sqlite3.connect(tmp_path / WATCH_DB) as db:
        db.execute("UPDATE last_change SET event_id = ?", ("x" * 10_000,))
    known = read_known_changes(tmp_path)
    assert known.changes == {}
    assert known.problem == (
        f"{tmp_path / WATCH_DB}: a row of last_change is not the watcher's shape"
    )
