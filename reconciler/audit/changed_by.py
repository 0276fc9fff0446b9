"""Who last changed a drifted field, when `reconciler watch` saw Zoom's event for it.

The watcher records, per target and changed key, the newest settings or lock event Zoom sent
(its operator, operator id, time and event id) in the `last_change` table of its queue database
under the repo's `.reconciler/`. The audit reads that table, never writes it, and names the
change's author on each drift finding it matches: the audit reads Zoom's state, the watcher's
record only says who made it so.

The database is outside input like any other: missing means "nothing known"; a file that is not
a readable sqlite database of this shape is said in one line and otherwise ignored (an audit
does not fail because a watcher's record is damaged); rows past `ROW_LIMIT` are left out,
newest kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from reconciler.escape import quoted

WATCH_DB = Path(".reconciler") / "watch.sqlite3"
LAST_CHANGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS last_change (
    target TEXT NOT NULL,
    key TEXT NOT NULL,
    event_ts INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    operator TEXT,
    operator_id TEXT,
    changed_at TEXT NOT NULL,
    PRIMARY KEY (target, key)
);
"""
ROW_LIMIT = 200_000
_TEXT_LIMIT = 256  # Zoom's ids, emails and event names are far shorter


@dataclass(frozen=True)
class ChangedBy:
    operator: str | None
    operator_id: str | None
    changed_at: str  # ISO 8601, UTC, from the event's event_ts
    event_id: str
    event: str

    def to_json(self) -> dict[str, str | None]:
        return {
            "changed_by": self.operator,
            "changed_by_id": self.operator_id,
            "changed_at": self.changed_at,
            "change_event": self.event,
            "change_event_id": self.event_id,
        }


def target_key(kind: str, target_id: str) -> str:
    """How the table names a target: `account`, `group:ID`, `user:ID` (Zoom's ids)."""
    return "account" if kind == "account" else f"{kind}:{target_id}"


def change_key(key: str, *, locks: bool) -> str:
    """A dotted key as Zoom's event carries it; a lock event's keys are kept apart."""
    return f"locks:{key}" if locks else key


@dataclass(frozen=True)
class KnownChanges:
    """The watcher's record, as read: (target key, change key) -> who changed it last."""

    changes: Mapping[tuple[str, str], ChangedBy]
    problem: str | None = None  # one line: why the record could not be read

    def of(
        self, kind: str, target_id: str, family: str | None, path: str | None, *, locks: bool
    ) -> ChangedBy | None:
        """The change behind a drift finding: Zoom's event names the key in its own shape,
        which is the repo's dotted path, or (meeting security) the path under its family."""
        if not self.changes or not path:
            return None
        target = target_key(kind, target_id)
        for key in (path, f"{family}.{path}" if family else None):
            if key is not None:
                found = self.changes.get((target, change_key(key, locks=locks)))
                if found is not None:
                    return found
        return None


NOTHING_KNOWN = KnownChanges({})


def read_known_changes(repo_root: Path) -> KnownChanges:
    """The watcher's record of the repo at `repo_root`; nothing known if it has none."""
    path = repo_root / WATCH_DB
    if not path.is_file():
        return NOTHING_KNOWN
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        return KnownChanges({}, _cannot_read(path, exc))
    try:
        rows = db.execute(
            "SELECT target, key, event_id, event, operator, operator_id, changed_at"
            " FROM last_change ORDER BY event_ts DESC LIMIT ?",
            (ROW_LIMIT,),
        ).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return NOTHING_KNOWN  # a watcher from before the record existed
        return KnownChanges({}, _cannot_read(path, exc))
    except sqlite3.Error as exc:
        return KnownChanges({}, _cannot_read(path, exc))
    finally:
        db.close()
    changes: dict[tuple[str, str], ChangedBy] = {}
    for row in rows:
        if not _is_row(row):
            return KnownChanges({}, f"{path}: a row of last_change is not the watcher's shape")
        target, key, event_id, event, operator, operator_id, changed_at = row
        changes[(target, key)] = ChangedBy(operator, operator_id, changed_at, event_id, event)
    return KnownChanges(changes)


def _is_row(row: tuple[object, ...]) -> bool:
    required, optional = row[:4] + row[6:], row[4:6]
    return all(isinstance(v, str) and 0 < len(v) <= _TEXT_LIMIT for v in required) and all(
        v is None or (isinstance(v, str) and len(v) <= _TEXT_LIMIT) for v in optional
    )


def _cannot_read(path: Path, exc: sqlite3.Error) -> str:
    return f"{path}: the watcher's record of who changed what cannot be read ({quoted(str(exc))})"
