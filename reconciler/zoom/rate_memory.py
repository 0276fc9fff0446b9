"""The rate each account was found to accept, kept between runs in `.reconciler/rate.json`, so a
probe resumes at it instead of climbing from Pro's rate again (a scheduled CI job restores the
folder from the Actions cache).

The file is input like any other: it may be missing, truncated, edited or from another version.
Whatever is wrong with it, the run probes from the start as if it were not there; it never fails
a command. Entries are keyed by account id (not a secret: every report names it) and carry when
they were proven, so an account's old figure ages out.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.private import private_folder
from reconciler.zoom.pacer import Probe

RATE_FILE = Path(".reconciler") / "rate.json"
FORMAT_VERSION = 1
# Zoom's plan (and so its rate) rarely changes; a month-old figure is probed afresh.
KEEP_FOR = timedelta(days=30)
# A file bigger than this is not ours: read none of it.
MAX_BYTES = 64 * 1024


def resumed(probe: Probe, path: Path, account_id: str, *, now: datetime | None = None) -> Probe:
    """`probe`, resuming at the rate remembered for the account (within the probe's range)."""
    remembered = _remembered(_read(path), account_id, now or datetime.now(UTC))
    if remembered is None:
        return probe
    return replace(probe, resume=min(probe.ceiling, max(probe.start, remembered)))


def remember(path: Path, account_id: str, rate: float, *, now: datetime | None = None) -> None:
    """Keep `rate` for the account (atomically: a reader never sees half a file). Errors are
    swallowed: the figure only saves the next run a few seconds."""
    if not (math.isfinite(rate) and rate > 0):
        return
    when = (now or datetime.now(UTC)).isoformat(timespec="seconds")
    accounts = _read(path)
    accounts[account_id] = {"rate": round(rate, 2), "proven_at": when}
    document = {"format_version": FORMAT_VERSION, "accounts": accounts}
    try:
        private_folder(path.parent)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".rate-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2, sort_keys=True)
        os.replace(temporary, path)
    except OSError:
        return


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as source:
            raw = source.read(MAX_BYTES + 1)
        document = json.loads(raw) if len(raw) <= MAX_BYTES else None
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION:
        return {}
    accounts = document.get("accounts")
    if not isinstance(accounts, dict):
        return {}
    return {key: value for key, value in accounts.items() if isinstance(key, str)}


def _remembered(accounts: dict[str, Any], account_id: str, now: datetime) -> float | None:
    entry = accounts.get(account_id)
    if not isinstance(entry, dict):
        return None
    rate, proven_at = entry.get("rate"), entry.get("proven_at")
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        return None
    if not isinstance(proven_at, str):
        return None
    try:
        when = datetime.fromisoformat(proven_at)
    except ValueError:
        return None
    if when.tzinfo is None or not now - KEEP_FOR <= when <= now + timedelta(minutes=5):
        return None
    return float(rate) if math.isfinite(rate) and rate > 0 else None
