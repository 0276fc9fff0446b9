"""`read_report` parses what `json.loads` parses, a value at a time through a small window,
drops an audit's findings, and refuses what is over its limits."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.github import report_text
from reconciler.github.report_text import TooBig, read_report

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@pytest.fixture(autouse=True)
def small_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_text, "_CHUNK", 3)  # every value crosses the window's end


def read(text: str, held: int = 10**6, total: int = 10**7) -> Any:
    return read_report(io.StringIO(text), held, total)


@given(st.dictionaries(st.text(), JSON, max_size=6), st.sampled_from([None, 2]))
def test_a_document_reads_as_json_loads_reads_it(
    document: dict[str, Any], indent: int | None
) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=False)
    assert read(text) == json.loads(text)


@given(st.lists(JSON, max_size=8))
def test_an_audits_findings_are_parsed_and_dropped(findings: list[Any]) -> None:
    document = {"kind": "audit", "findings": findings, "summary": {"clean": not findings}}
    assert read(json.dumps(document)) == {**document, "findings": []}


@pytest.mark.parametrize(
    "text",
    ['{"a": 1,}', '{"a": 1', '{"a" 1}', "{1: 2}", '{"a": 1} x', "", "nul",
     '{"kind": "audit", "findings": [1,]}', '{"kind": "audit", "findings": [1 2]}'],
)  # fmt: skip
def test_what_json_loads_refuses_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        read(text)


def test_a_value_over_the_held_limit_and_a_text_over_the_total_are_refused() -> None:
    with pytest.raises(TooBig, match=r"^holds a value over 1000 characters$"):
        read('{"a": "' + "x" * 2000 + '"}', held=1000)
    findings = ",".join(['"finding"'] * 2000)  # each small, ~20,000 characters in all
    audit = '{"kind": "audit", "findings": [' + findings + '], "summary": {}}'
    assert read(audit, held=1000) == {"kind": "audit", "findings": [], "summary": {}}
    with pytest.raises(TooBig, match=r"^is over 10000 characters$"):
        read(audit, held=1000, total=10_000)
