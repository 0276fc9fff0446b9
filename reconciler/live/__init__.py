"""The live-state reader: Zoom's directory, settings and locks as they are now, repo-shaped."""

from reconciler.live.directory import Directory
from reconciler.live.locks import (
    ACCOUNT,
    Blocked,
    CoveringLock,
    HeldAsWanted,
    Holder,
    JudgedLive,
    LockVerdict,
    LockView,
    NotLocked,
)
from reconciler.live.reader import (
    LIVE_ONLY,
    LiveDoc,
    LiveReader,
    LockOverlay,
    LockViews,
    Unreadable,
    UserOutcome,
)

__all__ = [
    "ACCOUNT",
    "LIVE_ONLY",
    "Blocked",
    "CoveringLock",
    "Directory",
    "HeldAsWanted",
    "Holder",
    "JudgedLive",
    "LiveDoc",
    "LiveReader",
    "LockOverlay",
    "LockVerdict",
    "LockView",
    "LockViews",
    "NotLocked",
    "Unreadable",
    "UserOutcome",
]
