"""The append-only audit log: JSON lines, one before each PATCH (`"result": "sending"`) and one
with each request's outcome (applied, not_applied, failed, or stale / unchanged when nothing was
left to send). Every line carries the run's `run_id`, so the lines of runs that share a log (other
accounts of the same repo) can be told apart.

Each line is written with one `os.write`, then fsynced before the target's next request goes out.
A run killed mid-write (or a full disk) can leave one torn last line: the next run fences it off
with a newline and a `"result": "fenced"` line, so every line after a fence parses.

The log is never written through a symbolic link, nor into anything but a regular file: the
settings repo is shared, and a link committed as `.reconciler/audit.log` must not make apply
append to a file of the operator's choosing.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler import __version__
from reconciler.errors import AuditLogError
from reconciler.private import private_folder

AUDIT_DIR = ".reconciler"
AUDIT_FILE = "audit.log"
# O_RDWR, not O_WRONLY: the torn-line check reads the last byte through the very descriptor that
# appends, so a file swapped in between cannot fool it. O_NONBLOCK: a FIFO at the path must fail
# at once (ENXIO) rather than hang the run; Linux ignores it for regular files.
_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_MODE = 0o600
_ESCAPE = "pass --audit-log PATH"
FENCE_NOTE = "the previous line was incomplete (a run ended while writing it); it is kept as it was"


# -- where the log lives ------------------------------------------------------------------------


def audit_log_path(repo_root: Path, given: Path | None) -> Path:
    """The audit log's path: `given` (the user's explicit choice) as it is, else the default
    `repo_root/.reconciler/audit.log`, which must stay inside the repo's `.reconciler/` (a
    `.reconciler` committed as a link to elsewhere is refused)."""
    if given is not None:
        return given
    path = repo_root / AUDIT_DIR / AUDIT_FILE
    _require_inside(path, repo_root.resolve() / AUDIT_DIR)
    return path


def _require_inside(path: Path, base: Path) -> None:
    # The parents are resolved, the last component is not: a link there is check_audit_log's
    # to refuse, with its own message.
    where = path.parent.resolve() / path.name
    if not where.is_relative_to(base):
        raise AuditLogError(
            f"{path} lies at {where}, outside {base}/: the audit log is kept in the repo's "
            f"{AUDIT_DIR} folder; make {AUDIT_DIR} a plain folder (or {_ESCAPE})"
        )


# -- checks -------------------------------------------------------------------------------------


def check_audit_log(path: Path) -> None:
    """Refuse (AuditLogError) an audit log that apply could not append to, before anything is
    read from Zoom: creates the folder (and an empty log) when missing."""
    _make_parent(path)
    _refuse_odd_file(path)
    os.close(_open_log(path))


def _make_parent(path: Path) -> None:
    try:
        private_folder(path.parent)
    except FileExistsError as exc:
        # mkdir's own words ("File exists") would hide that the folder is a file.
        raise AuditLogError(
            f"cannot write the audit log {path}: {path.parent} is not a folder "
            f"(remove it, or {_ESCAPE})"
        ) from exc
    except OSError as exc:
        raise _cannot_write(path, exc) from exc


def _refuse_odd_file(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _cannot_write(path, exc) from exc
    _require_regular(path, mode)


def _require_regular(path: Path, mode: int) -> None:
    if stat.S_ISLNK(mode):
        raise _link_refused(path)
    if not stat.S_ISREG(mode):
        raise AuditLogError(
            f"{path} is not a regular file: the audit log is only appended to a plain file; "
            f"remove it (or {_ESCAPE})"
        )


def _open_log(path: Path) -> int:
    """The log's descriptor, opened for appending, never through a link (O_NOFOLLOW also covers
    a link created after the checks)."""
    try:
        fd = os.open(path, _OPEN_FLAGS, _MODE)
    except OSError as exc:
        raise _open_error(path, exc) from exc
    try:
        _require_regular(path, os.fstat(fd).st_mode)
    except AuditLogError:
        os.close(fd)
        raise
    return fd


def _open_error(path: Path, exc: OSError) -> AuditLogError:
    if exc.errno == errno.ELOOP:
        return _link_refused(path)
    if exc.errno in (errno.EISDIR, errno.ENXIO):
        # A folder, or a FIFO with no reader (O_NONBLOCK): both slipped in after the checks.
        return AuditLogError(f"{path} is not a regular file: remove it (or {_ESCAPE})")
    return _cannot_write(path, exc)


def _link_refused(path: Path) -> AuditLogError:
    return AuditLogError(
        f"{path} is a symbolic link: the audit log is never written through a link; "
        f"remove it (or {_ESCAPE})"
    )


# What to do about the usual reasons; anything else is most likely a matter of permissions.
_HINTS = {
    errno.ENOTDIR: "a part of the path is a file: fix the path",
    errno.EROFS: "mount it writable",
    errno.ENOSPC: "free some space",
}


def _cannot_write(path: Path, exc: OSError) -> AuditLogError:
    hint = _HINTS.get(exc.errno or 0, "check the folder's permissions")
    return AuditLogError(
        f"cannot write the audit log {path}: {_reason(exc)} ({hint}, or {_ESCAPE})"
    )


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


# -- the log ------------------------------------------------------------------------------------


# Extra fields for a line, from the line's record: what a caller knows that the applier does not
# (`watch`: the Zoom event, operator and operator id of the foreign change a repair puts back).
Annotate = Callable[[dict[str, Any]], Mapping[str, Any]]


class AuditLog:
    """The run's audit log, open for appending while the run sends requests.

    After one failed write the log is poisoned: every later write raises the same AuditLogError
    at once, so no request goes out that the log could not record.
    """

    def __init__(
        self,
        path: Path,
        repo_commit: str | None,
        run_id: str,
        annotate: Annotate | None = None,
    ) -> None:
        self.path = path
        self.repo_commit = repo_commit
        self.run_id = run_id
        self.annotate = annotate
        self._fd: int | None = None
        self._failure: str | None = None

    def __enter__(self) -> AuditLog:
        _make_parent(self.path)
        self._fd = _open_log(self.path)
        try:
            if _ends_torn(self._fd):
                self._append(b"\n" + self._line({"result": "fenced", "note": FENCE_NOTE}))
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        # Every line was fsynced when written: a failing close loses nothing.
        with contextlib.suppress(OSError):
            os.close(fd)

    def write(self, record: dict[str, Any]) -> None:
        extra = self.annotate(record) if self.annotate else {}
        self._append(self._line({**record, **extra}))

    def _line(self, record: dict[str, Any]) -> bytes:
        line = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "run_id": self.run_id,
            "repo_commit": self.repo_commit,
            "tool_version": __version__,
            **record,
        }
        return (json.dumps(line, ensure_ascii=False, default=repr) + "\n").encode("utf-8")

    def _append(self, data: bytes) -> None:
        if self._failure is not None:
            raise AuditLogError(self._failure)
        assert self._fd is not None, "use AuditLog as a context manager"
        try:
            _write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError as exc:
            self._failure = (
                f"cannot write the audit log {self.path}: {_reason(exc)}; nothing more is sent"
            )
            raise AuditLogError(self._failure) from exc


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def _write_all(fd: int, data: bytes) -> None:
    # One write is the rule (O_APPEND keeps it whole among other appenders); the loop is for
    # the rare short write, which leaves a torn line only if the next write fails too.
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written == 0:  # would loop forever; a regular file never takes 0 bytes of >0
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        view = view[written:]
