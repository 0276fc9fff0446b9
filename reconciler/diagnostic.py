"""One diagnostic type for everything the tool reports about an input: what, where, how bad, and
what to do. `validate` reports the settings repo's problems with it; policies and the audit will
report their findings with it too, so every emitter (text, GitHub annotations, SARIF, JUnit)
renders one type.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.errors import ConfigError


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


# The code of a problem the settings repo loader found (schema, YAML, layering, names in Zoom).
INVALID_REPO = "repo-invalid"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    col: int | None = None
    target: str | None = None  # "user alice@acme.test", "group Engineering", "account"

    @property
    def where(self) -> str:
        """`file:line:col`, as far as it is known."""
        return ":".join(str(part) for part in (self.file, self.line, self.col) if part is not None)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text} (hint: {self.hint})" if self.hint else text


def from_problem(problem: ConfigError, code: str = INVALID_REPO) -> Diagnostic:
    """A problem the loader raised (a ConfigError with its position) as a Diagnostic."""
    return Diagnostic(
        code,
        Severity.ERROR,
        problem.message,
        problem.hint,
        problem.file,
        problem.line,
        problem.col,
    )


def diagnostic_json(diagnostic: Diagnostic) -> dict[str, Any]:
    return {
        "code": diagnostic.code,
        "severity": diagnostic.severity.value,
        "message": diagnostic.message,
        "hint": diagnostic.hint,
        "file": diagnostic.file,
        "line": diagnostic.line,
        "col": diagnostic.col,
        "target": diagnostic.target,
    }


def diagnostic_from_json(data: dict[str, Any]) -> Diagnostic:
    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    def number(key: str) -> int | None:
        value = data.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return Diagnostic(
        str(data["code"]),
        Severity(data["severity"]),
        str(data["message"]),
        text("hint"),
        text("file"),
        number("line"),
        number("col"),
        text("target"),
    )
