"""The words every layer shares: levels, option families, lock families, rate tiers, leaf paths.

Kept apart so that `desired/` (the repo), `zoom/` (the API) and the pipeline above them speak the
same language without importing one another.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Literal

Level = Literal["user", "group", "account"]
# Levels that hold locks over the levels below them.
LockLevel = Literal["group", "account"]
Family = Literal[
    "general", "meeting_authentication", "recording_authentication", "meeting_security"
]
# Lock settings come in two families: meeting_security, and general for everything else.
LockFamily = Literal["general", "meeting_security"]
Tier = Literal["free", "pro", "business"]
# A key path in the repo's shape: ("in_meeting", "chat").
LeafPath = tuple[str, ...]
# (done, total): how far a run has got through its targets.
ProgressHook = Callable[[int, int], None]

LEVELS: tuple[Level, ...] = ("user", "group", "account")
FAMILIES: tuple[Family, ...] = (
    "general",
    "meeting_authentication",
    "recording_authentication",
    "meeting_security",
)
LOCK_FAMILIES: tuple[LockFamily, ...] = ("general", "meeting_security")


def family_option(family: Family | LockFamily) -> str | None:
    """The `option` query value Zoom uses for a family (None for general settings)."""
    return None if family == "general" else family


def family_of_option(option: str | None) -> Family:
    """The family an `option` query value names; None (no option) is general settings."""
    if option is None:
        return "general"
    for family in FAMILIES:
        if family == option:
            return family
    raise ValueError(f"unknown option family {option!r}")


def lock_family_of(family: Family) -> LockFamily:
    """The lock family whose locks cover a settings family."""
    return "meeting_security" if family == "meeting_security" else "general"


def no_progress(_done: int, _total: int) -> None:
    """A ProgressHook that shows nothing."""


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def email_key(email: str) -> str:
    """An email as every layer compares it: A-Z folded to a-z, nothing else. `str.lower()`
    folds more (the Kelvin sign K to k), so a file named with a look-alike would manage
    another user."""
    return email.translate(_ASCII_LOWER)


def look_alike_key(email: str) -> str:
    """What an email looks like: compatibility forms and every case folded, to warn of a name
    that resembles another without being it. Never used to match."""
    return unicodedata.normalize("NFKC", email).casefold()
