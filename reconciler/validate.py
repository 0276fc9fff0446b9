"""The validate use case (`reconciler validate`): the repo loaded and checked offline, then what it
asks for judged by the rules of its packs. Nothing here prints; the caller renders a Validation.

It reads the plan's policy helpers and audit's acknowledgement check, so it sits above both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from reconciler.audit.run import acknowledgement_problems
from reconciler.desired import DesiredState, load_repo
from reconciler.desired.problems import sorted_problems
from reconciler.diagnostic import Diagnostic
from reconciler.errors import ValidationFailed
from reconciler.plan.policies import conflict_problems, desired_violations, engine_for


@dataclass
class Validation:
    """The loaded repo and the violations of what it asks for; or, for a repo with problems,
    every problem (`failed`) and no state."""

    state: DesiredState | None
    failed: ValidationFailed | None = None
    violations: list[Diagnostic] = field(default_factory=list)


def run_validate(path: str | Path, today: date | None = None) -> Validation:
    """Problems in the files are returned, not raised; other errors (a schema missing, a file
    that cannot be read) are raised as they are."""
    try:
        state = load_repo(path)
        engine = engine_for(state)
        found = acknowledgement_problems(state, engine, today or datetime.now(UTC).date())
        found += conflict_problems(state, engine) if engine else []
        if found:
            raise ValidationFailed(sorted_problems(found))
    except ValidationFailed as failed:
        return Validation(None, failed)
    return Validation(state, violations=desired_violations(state, engine) if engine else [])
