"""The audit JSON written a key and a finding at a time is the document `json.dumps` writes."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

from reconciler.audit.model import AuditResult
from reconciler.audit.run import report_file
from reconciler.render.audit_json import audit_json, render
from tests.audit.sample import sample


def rendered(result: AuditResult) -> str:
    fh = io.StringIO()
    render(result, fh)
    return fh.getvalue()


def test_the_streamed_document_is_the_one_json_dumps_writes() -> None:
    for result in (sample(), AuditResult()):
        expected = json.dumps(audit_json(result), indent=2, ensure_ascii=False) + "\n"
        assert rendered(result) == expected


def test_the_sample_streams_findings_and_unknown_targets() -> None:
    document = json.loads(rendered(sample()))
    assert len(document["findings"]) == len(sample().findings) > 0
    assert [t["level"] for t in document["unknown_targets"]] == ["user"]
    assert list(document)[:3] == ["kind", "format_version", "tool_version"]


def test_a_gz_report_file_is_the_plain_text_gzipped_and_always_the_same_bytes(
    tmp_path: Path,
) -> None:
    text = rendered(sample())
    written = []
    for attempt in range(2):
        path = tmp_path / str(attempt) / "audit.json.gz"
        with report_file(path) as fh:
            render(sample(), fh)
        written.append(path.read_bytes())
    assert written[0] == written[1]  # no name, no time in the header
    assert gzip.decompress(written[0]).decode() == text
    plain = tmp_path / "audit.json"
    with report_file(plain) as fh:
        render(sample(), fh)
    assert plain.read_text(encoding="utf-8") == text
