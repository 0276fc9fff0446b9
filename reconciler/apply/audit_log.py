"""The append-only audit log: JSON lines, one before each PATCH (`"result": "sending"`) and one
with each request's outcome (applied, not_applied, failed, or stale / unchanged when nothing was
left to send).

Each line is written with one `write`, flushed and fsynced before the target's next request goes
out, so a run killed at any point leaves only whole lines, and every line is true.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from reconciler import __version__


class AuditLog:
    def __init__(self, path: Path, repo_commit: str | None) -> None:
        self.path = path
        self.repo_commit = repo_commit
        self._fh: IO[str] | None = None

    def __enter__(self) -> AuditLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(self, *_: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def write(self, record: dict[str, Any]) -> None:
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "repo_commit": self.repo_commit,
            "tool_version": __version__,
            **record,
        }
        assert self._fh is not None, "use AuditLog as a context manager"
        self._fh.write(json.dumps(line, ensure_ascii=False, default=repr) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
