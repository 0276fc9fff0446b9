"""Emitters of Diagnostics: plain text lines, and GitHub Actions workflow commands."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TextIO

from reconciler.diagnostic import Diagnostic, Severity
from reconciler.escape import printable, workflow_data, workflow_property

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "notice"}


class DiagnosticEmitter(Protocol):
    def __call__(self, diagnostics: Iterable[Diagnostic], fh: TextIO) -> None: ...


def emit_text(diagnostics: Iterable[Diagnostic], fh: TextIO) -> None:
    """`file:line:col: message (hint: ...)`, one a line, whatever the message holds."""
    for diagnostic in diagnostics:
        fh.write(f"{printable(str(diagnostic))}\n")


def github_annotation(diagnostic: Diagnostic, prefix: str = "") -> str:
    """A GitHub Actions `::error` command; `prefix` leads from the workspace to the repo."""
    where = [f"file={workflow_property(prefix + (diagnostic.file or ''))}"]
    if diagnostic.line is not None:
        where.append(f"line={diagnostic.line}")
    if diagnostic.col is not None:
        where.append(f"col={diagnostic.col}")
    message = diagnostic.message + (f" (hint: {diagnostic.hint})" if diagnostic.hint else "")
    command = _COMMANDS[diagnostic.severity]
    return f"::{command} {','.join(where)}::{workflow_data(message)}"


def github_emitter(prefix: str) -> DiagnosticEmitter:
    """Each diagnostic as its text line, then as a GitHub annotation on the file's line."""

    def emit(diagnostics: Iterable[Diagnostic], fh: TextIO) -> None:
        for diagnostic in diagnostics:
            fh.write(f"{printable(str(diagnostic))}\n{github_annotation(diagnostic, prefix)}\n")

    return emit
