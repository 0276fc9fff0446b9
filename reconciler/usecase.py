"""What a use case (apply's `reconcile`, `run_audit`, `run_export`) takes from its caller instead
of printing or opening things itself.

`Phases`: it names each phase as it starts ("plan", "apply", "audit", "export") with the session
the phase reads through, and reports to the hook it gets back for as long as the phase runs. The
CLI answers with a bar or log lines; a library caller with nothing (`no_phases`).

`SessionSource`: the means to open the session, for a use case that must refuse bad input
before any session exists (no token asked for, no sandbox state made); a long-running process
passes the session it holds instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from reconciler.vocab import ProgressHook, no_progress

if TYPE_CHECKING:
    from reconciler.connect import Session

Phases = Callable[[str, "Session"], AbstractContextManager[ProgressHook]]
SessionSource = Callable[[], Awaitable["Session"]]


def no_phases(label: str, session: Session) -> AbstractContextManager[ProgressHook]:
    del label, session
    return contextlib.nullcontext(no_progress)


async def session_of(session: Session | SessionSource) -> Session:
    """The session given, or the one its source opens now (a Session is not callable)."""
    return await session() if callable(session) else session
