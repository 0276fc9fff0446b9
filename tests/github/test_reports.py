"""A report is parsed once into typed values; a document of no known kind is refused whole, and a
value of the wrong type counts as absent."""

from __future__ import annotations

import pytest

from reconciler.github.reports import ChangeLine, Problem, UnknownReport, parse_report


def test_an_apply_report_gives_its_counts_and_its_changes() -> None:
    found = parse_report(
        {
            "kind": "apply",
            "summary": {"applied": 3, "blocked": 2, "not_applied": 1, "failed": 1},
            "unknown_targets": 4,
            "changes": [
                {
                    "result": "blocked",
                    "target": {"kind": "user", "email": "bob@acme.test"},
                    "path": ["waiting_room"],
                    "option": "meeting_security",
                    "detail": "locked by the account",
                },
                {"result": "applied", "target": {"kind": "account"}, "path": ["a", "b"]},
                "not an object",
            ],
        }
    )
    assert found.kind == "apply" and found.error is None
    assert found.counts == {
        "changes": 3, "blocked": 2, "not_applied": 2, "drift": 0, "violations": 0, "unknown": 4
    }  # fmt: skip
    assert found.changes == (
        ChangeLine(
            "blocked", "user bob@acme.test [meeting_security] waiting_room", "locked by the account"
        ),
        ChangeLine("applied", "account a.b", None),
    )
    assert found.needs_attention(0)


def test_a_failed_run_counts_nothing_and_keeps_its_error() -> None:
    found = parse_report(
        {
            "kind": "plan",
            "summary": {"changes_pending": 5},
            "error": {
                "code": "invalid_repo",
                "exit_code": 1,
                "message": "1 problem",
                "problems": [{"file": "a.yaml", "line": 3, "message": "bad"}, 7],
                "hint": "fix it",
            },
        }
    )
    assert set(found.counts.values()) == {0}
    assert found.error is not None and not found.error.refused
    assert found.error.problems == (Problem("a.yaml:3", "bad"), None)
    assert (found.error.code, found.error.hint) == ("invalid_repo", "fix it")
    assert found.needs_attention(0)


def test_a_clean_audit_needs_no_attention_and_wrong_types_count_as_absent() -> None:
    found = parse_report({"kind": "audit", "summary": {"by_result": {"drift": "3", "fail": True}}})
    assert set(found.counts.values()) == {0}
    assert not found.needs_attention(0)
    assert found.needs_attention(2)


@pytest.mark.parametrize(
    ("document", "shown"), [({}, "no kind"), ({"kind": "sbom"}, "sbom"), ({"kind": 3}, "3")]
)
def test_a_document_of_no_known_kind_is_refused_in_one_line(
    document: dict[str, object], shown: str
) -> None:
    with pytest.raises(UnknownReport) as refused:
        parse_report(document)
    assert str(refused.value) == (
        f"a document of {shown}, not a report of this version of reconciler (one of plan, apply,"
        " audit, validate); pass the report a command wrote with --format json"
    )
