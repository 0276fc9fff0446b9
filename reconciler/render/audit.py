"""The audit's report formats, one module each behind one protocol."""

from __future__ import annotations

from typing import Protocol, TextIO

from reconciler.audit.model import AuditResult
from reconciler.render import audit_html, audit_json, audit_junit, audit_markdown, audit_sarif


class AuditRenderer(Protocol):
    def __call__(self, result: AuditResult, fh: TextIO) -> None: ...


AUDIT_RENDERERS: dict[str, AuditRenderer] = {
    "markdown": audit_markdown.render,
    "json": audit_json.render,
    "junit": audit_junit.render,
    "sarif": audit_sarif.render,
    "html": audit_html.render,
}
AUDIT_FORMATS = tuple(AUDIT_RENDERERS)
# The file each format is written to in an evidence folder: the machine-read reports gzipped
# (a 5,000-user audit's JSON is ~200 MB, ~10 MB gzipped), the two people open as they are.
EVIDENCE_NAMES = {
    "markdown": "audit.md",
    "json": "audit.json.gz",
    "junit": "audit.junit.xml.gz",
    "sarif": "audit.sarif.gz",
    "html": "audit.html",
}


def render_audit(result: AuditResult, fh: TextIO, fmt: str) -> None:
    AUDIT_RENDERERS[fmt](result, fh)
