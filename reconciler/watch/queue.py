"""The durable event queue: sqlite (WAL, synchronous FULL) in the repo's `.reconciler/`.

A delivery is acknowledged only once its row is committed, so a crash (SIGKILL) or a restart
loses nothing Zoom was told we have. Items are claimed by the worker and deleted only after
their repair is done; a worker that dies leaves its claims, and the next one (`release_claims`
on start) takes them again. A delivery seen before (the same event id, or the same body) is
recognised for `SEEN_DAYS` after it arrived, including after its repair is done, since Zoom
retries a delivery it thinks failed.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.private import private_folder
from reconciler.watch.events import ZoomEvent

QUEUE_FILE = Path(".reconciler") / "watch.sqlite3"
SEEN_DAYS = 3
_MODE = 0o600
_SCHEMA = """
CREATE TABLE IF NOT EXISTS queued (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    event TEXT NOT NULL,
    claimed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS seen (
    key TEXT PRIMARY KEY,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS seen_by_time ON seen (received_at);
"""


def queue_path(repo_root: Path) -> Path:
    return repo_root / QUEUE_FILE


@dataclass(frozen=True)
class QueuedEvent:
    seq: int
    received_at: float
    event: ZoomEvent


def _create_private(path: Path) -> None:
    """The database file made 0600 before sqlite opens it: sqlite gives its -wal and -shm files
    the database file's permissions. Never through a link, never anything but a regular file."""
    private_folder(path.parent)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, _MODE)
    except OSError as exc:
        raise ConfigError(f"cannot open the watch queue {path}: {exc.strerror or exc}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"the watch queue {path} is not a regular file: remove it")
    finally:
        os.close(fd)


class EventQueue:
    def __init__(self, path: Path) -> None:
        _create_private(path)
        self.path = path
        # One connection for the process's one event loop; autocommit off, explicit commits.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # each commit on disk before we answer
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EventQueue:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def enqueue(self, event: ZoomEvent, now: float | None = None) -> bool:
        """Store `event` durably; False (nothing stored) if its id or body was seen before."""
        received = time.time() if now is None else now
        keys = (f"id:{event.event_id}", f"body:{event.digest}")
        with self._transaction() as db:
            found = db.execute("SELECT 1 FROM seen WHERE key IN (?, ?)", keys).fetchone()
            if found:
                return False
            db.executemany("INSERT INTO seen VALUES (?, ?)", [(key, received) for key in keys])
            db.execute(
                "INSERT INTO queued (event_id, received_at, event) VALUES (?, ?, ?)",
                (event.event_id, received, event.to_json()),
            )
            db.execute("DELETE FROM seen WHERE received_at < ?", (received - SEEN_DAYS * 86400,))
        return True

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (on disk) at the end or rolled back."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def release_claims(self) -> int:
        """On start: claims of a worker that is gone are given back."""
        return self._db.execute("UPDATE queued SET claimed = 0 WHERE claimed = 1").rowcount

    def claim(self, limit: int = 1000) -> list[QueuedEvent]:
        """The oldest unclaimed items, marked claimed (a second claim does not return them)."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT seq, received_at, event FROM queued WHERE claimed = 0 ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
            db.executemany("UPDATE queued SET claimed = 1 WHERE seq = ?", [(r[0],) for r in rows])
        return [QueuedEvent(seq, at, ZoomEvent.from_json(text)) for seq, at, text in rows]

    def done(self, items: list[QueuedEvent]) -> None:
        """Delete items whose repair is done."""
        with self._transaction() as db:
            db.executemany("DELETE FROM queued WHERE seq = ?", [(i.seq,) for i in items])

    def unclaim(self, items: list[QueuedEvent]) -> None:
        """Give items back (their repair did not happen: tried again on the next pass)."""
        with self._transaction() as db:
            db.executemany("UPDATE queued SET claimed = 0 WHERE seq = ?", [(i.seq,) for i in items])

    def depth(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM queued").fetchone()
        return int(row[0])
