"""One apply per repo and account at a time: an exclusive `flock` on
`repo/.reconciler/apply-<account id>.lock`.

The lock belongs to the open file, so the kernel releases it when the holder exits or is killed;
a stale lock file is harmless and is never deleted (deleting it would let a second run lock a new
file while the first still holds the old one). The file's content (pid, start time, run id) only
tells a waiting run who holds it.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import re
import secrets
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

from reconciler.errors import RunLocked
from reconciler.private import private_folder

LOCK_DIR = ".reconciler"
RETRY_INTERVAL = 0.2  # seconds between attempts while waiting for --lock-timeout
_OPEN_FLAGS = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
_MODE = 0o600
_HOLDER_BYTES = 4096  # the holder's line is ~100 bytes; more is not ours
# What of a holder's line is shown: anything else may come from a file a repo committed.
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STARTED = re.compile(r"[0-9T:.+Z-]{1,40}")


def new_run_id() -> str:
    """A short random id shared by the run's lock, audit log lines and report."""
    return secrets.token_hex(8)


def run_lock_path(repo_root: Path, account_id: str) -> Path:
    # Accounts whose ids differ only in other characters share a lock: too strict, never unsafe.
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", account_id) or "_"
    return repo_root / LOCK_DIR / f"apply-{safe}.lock"


class RunLock:
    """Held for the whole apply; RunLocked if another process holds it past `timeout` seconds."""

    def __init__(self, path: Path, run_id: str, *, timeout: float = 0.0) -> None:
        self.path = path
        self.run_id = run_id
        self.timeout = timeout
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = _open_lock(self.path)
        try:
            deadline = time.monotonic() + self.timeout
            while not self._try(fd, deadline):
                time.sleep(_pause(deadline))
        except BaseException:
            os.close(fd)
            raise
        return self._held(fd)

    async def __aenter__(self) -> RunLock:
        """The same lock, waited for without blocking the event loop (a long-lived process, such
        as `watch`, keeps answering while a scheduled apply holds it)."""
        fd = _open_lock(self.path)
        try:
            deadline = time.monotonic() + self.timeout
            while not self._try(fd, deadline):
                await asyncio.sleep(_pause(deadline))
        except BaseException:
            os.close(fd)
            raise
        return self._held(fd)

    def __exit__(self, *_: object) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # Closing alone would release it; unlocking first says so.
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    async def __aexit__(self, *_: object) -> None:
        self.__exit__()

    def _held(self, fd: int) -> RunLock:
        _record_holder(fd, self.run_id)
        self._fd = fd
        return self

    def _try(self, fd: int, deadline: float) -> bool:
        """One attempt: True when taken, False to wait and try again, RunLocked past the
        deadline."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if deadline - time.monotonic() <= 0:
                raise RunLocked(self._held_message(fd)) from None
            return False
        except OSError as exc:
            raise _cannot_lock(self.path, exc) from exc

    def _held_message(self, fd: int) -> str:
        longer = f" longer than {self.timeout:g} s" if self.timeout > 0 else ""
        return (
            f"another apply of this repo and account is running ({_holder(fd)}; lock file "
            f"{self.path}): wait for it to finish, or pass --lock-timeout SECONDS to wait{longer}"
        )


def _pause(deadline: float) -> float:
    """How long to wait before the next attempt: never past the deadline, never negative (the
    deadline can pass between the attempt and this)."""
    return max(0.0, min(RETRY_INTERVAL, deadline - time.monotonic()))


def _open_lock(path: Path) -> int:
    try:
        private_folder(path.parent)
        fd = os.open(path, _OPEN_FLAGS, _MODE)
    except OSError as exc:
        raise _cannot_lock(path, exc) from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RunLocked(f"the run lock {path} is not a regular file: remove it")
    return fd


def _cannot_lock(path: Path, exc: OSError) -> RunLocked:
    if exc.errno == errno.ELOOP:
        return RunLocked(
            f"the run lock {path} is a symbolic link: the lock is never taken through a link; "
            "remove it"
        )
    reason = exc.strerror or type(exc).__name__
    return RunLocked(f"cannot take the run lock {path}: {reason} (check the folder's permissions)")


def _record_holder(fd: int, run_id: str) -> None:
    started = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = json.dumps({"pid": os.getpid(), "started": started, "run_id": run_id}) + "\n"
    # The lock is the flock, not this line: if the disk cannot take it, waiting runs only say
    # "held by another process", and the audit log check reports the disk.
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, line.encode(), 0)
        os.fsync(fd)
    except OSError:
        pass


def _holder(fd: int) -> str:
    try:
        holder = json.loads(os.pread(fd, _HOLDER_BYTES, 0))
        pid, started, run_id = holder["pid"], holder["started"], holder["run_id"]
    except (OSError, ValueError, TypeError, KeyError):
        return "held by another process"
    shown = (
        isinstance(pid, int)
        and isinstance(started, str)
        and isinstance(run_id, str)
        and _STARTED.fullmatch(started)
        and _RUN_ID.fullmatch(run_id)
    )
    return f"pid {pid}, started {started}, run {run_id}" if shown else "held by another process"
