"""`validate --format json`: what the offline check found, as a report of kind `validate`.

    {"kind": "validate", "format_version": 1, "path": "...", "valid": false,
     "summary": {"account": true, "defaults": "defaults.yaml", "groups": 3, "users": 12},
     "problems": [...diagnostics...], "violations": [...diagnostics...]}

Problems in the files make it a failed run's report as well (its `error`, code
`invalid_repo`, exit 1); policy violations of what the repo asks for are results (exit 3).
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from reconciler.desired import DesiredState
from reconciler.diagnostic import Diagnostic, diagnostic_json, from_problem
from reconciler.errors import ValidationFailed
from reconciler.render.failure import VALIDATE_FORMAT_VERSION, error_json


def validate_json(
    path: str,
    state: DesiredState | None,
    *,
    failed: ValidationFailed | None = None,
    violations: list[Diagnostic] | None = None,
    exit_code: int = 0,
) -> dict[str, Any]:
    found = violations or []
    document: dict[str, Any] = {
        "kind": "validate",
        "format_version": VALIDATE_FORMAT_VERSION,
        "path": path,
        "valid": failed is None and not found,
        "summary": None if state is None else _summary(state),
        "problems": [diagnostic_json(from_problem(p)) for p in failed.problems] if failed else [],
        "violations": [diagnostic_json(item) for item in found],
    }
    if failed is not None:
        document["error"] = error_json(failed, exit_code)
    return document


def render_validate_json(document: dict[str, Any], fh: TextIO) -> None:
    json.dump(document, fh, indent=2, ensure_ascii=False)
    fh.write("\n")


def _summary(state: DesiredState) -> dict[str, Any]:
    return {
        "account": state.account is not None,
        "defaults": state.defaults_file,
        "groups": len(state.groups),
        "users": len(state.users),
    }
