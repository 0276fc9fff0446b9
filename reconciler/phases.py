"""How a use case reports its progress without printing: it names each phase as it starts ("plan",
"apply", "audit") with the session the phase reads through, and reports to the hook it gets back
for as long as the phase runs. The CLI answers with a bar or log lines; a library caller with
nothing (`no_phases`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from reconciler.vocab import ProgressHook, no_progress

if TYPE_CHECKING:
    from reconciler.connect import Session

Phases = Callable[[str, "Session"], AbstractContextManager[ProgressHook]]


def no_phases(label: str, session: Session) -> AbstractContextManager[ProgressHook]:
    del label, session
    return contextlib.nullcontext(no_progress)
