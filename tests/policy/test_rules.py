"""Loading rule files: every problem at file:line:col, with the key path and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import ValidationFailed
from reconciler.policy import load_pack
from tests.policy.helpers import HEAD, pack_of, parsed, problems_of, rule_text, write


def test_a_valid_rule_loads_with_its_positions_and_reads() -> None:
    pack = pack_of(rule_text(references='["CIS Zoom 1.0.0 1.1.1.2"]', profile="1"))
    (rule,) = pack.rules
    assert (pack.name, pack.title, rule.id, rule.line, rule.expr_line) == (
        "p",
        "A test pack",
        "r1",
        4,
        9,
    )
    assert rule.levels == ("user", "group", "account")
    assert rule.references == ("CIS Zoom 1.0.0 1.1.1.2",)
    assert rule.profile == 1
    assert rule.reads.fields == {("meeting_security", ("waiting_room",))}


def test_unknown_keys_get_a_did_you_mean() -> None:
    assert problems_of(HEAD + rule_text(severty="high")) == [
        "p.yaml:10:5: rules[0].severty: unknown key (hint: did you mean 'severity'?)"
    ]
    assert problems_of("pack: p\ntitle: t\nrule: []\n") == [
        "p.yaml:1:1: missing the required key 'rules'",
        "p.yaml:3:1: rule: unknown key (hint: did you mean 'rules'?)",
    ]


def test_a_missing_key_names_the_rule() -> None:
    assert problems_of(HEAD + rule_text(rationale="DROP")) == [
        "p.yaml:4:5: rules[0]: missing the required key 'rationale'"
    ]


def test_bad_severity_and_levels() -> None:
    assert problems_of(HEAD + rule_text(severity="hgh", levels="[user, room]")) == [
        "p.yaml:6:15: rules[0].severity: must be one of low, medium, high, critical, "
        "got the string 'hgh' (hint: did you mean 'high'?)",
        "p.yaml:8:20: rules[0].levels[1]: must be one of user, group, account, "
        "got the string 'room'",
    ]
    assert problems_of(HEAD + rule_text(levels="[]")) == [
        "p.yaml:8:13: rules[0].levels: a rule applies at one level at least "
        "(hint: e.g. [account, group, user])"
    ]
    assert problems_of(HEAD + rule_text(levels="[user, user]")) == [
        "p.yaml:8:13: rules[0].levels: a level is named twice"
    ]


def test_duplicate_ids_name_the_first_line() -> None:
    text = HEAD + rule_text() + rule_text(title="Another")
    assert problems_of(text) == [
        "p.yaml:10:9: rules[1].id: duplicate rule id 'r1' (first at line 4)"
    ]


def test_an_id_must_follow_the_pattern() -> None:
    assert problems_of(HEAD + rule_text(id="R_1")) == [
        "p.yaml:4:9: rules[0].id: the id 'R_1' is not of the form [a-z0-9][a-z0-9.-]* "
        "(hint: use lower-case letters, digits, '.' and '-')"
    ]


def test_an_expr_that_does_not_compile_is_reported_at_its_key() -> None:
    assert problems_of(HEAD + rule_text(expr="meeting_security.waiting_room ==")) == [
        "p.yaml:9:5: rules[0].expr: does not compile: Syntax error: mismatched input '<EOF>' "
        "(column 33 of the expression)"
    ]


def test_a_weakens_that_does_not_compile_is_reported_at_its_key() -> None:
    found = problems_of(HEAD + rule_text(weakens="before == (true"))
    assert len(found) == 1
    assert found[0].startswith("p.yaml:10:5: rules[0].weakens: does not compile: Syntax error")


def test_unknown_variables_are_reported_with_a_did_you_mean() -> None:
    assert problems_of(HEAD + rule_text(expr="meeting_securty.waiting_room == true")) == [
        "p.yaml:9:5: rules[0].expr: unknown variable 'meeting_securty' "
        "(hint: did you mean 'meeting_security'?)"
    ]
    # before and after belong to weakens only; macro variables are bound, not unknown
    assert problems_of(HEAD + rule_text(expr="before == true")) == [
        "p.yaml:9:5: rules[0].expr: unknown variable 'before' "
        "(hint: expected one of: locked, meeting_authentication, meeting_security, "
        "recording_authentication, settings, target)"
    ]
    expr = "'settings.in_meeting.data_center_regions.all(region, region != \"CN\")'"
    assert problems_of(HEAD + rule_text(expr=expr)) == []


def test_locked_is_read_through_a_family() -> None:
    assert problems_of(HEAD + rule_text(expr="size(locked) > 0")) == [
        "p.yaml:9:5: rules[0].expr: locked is read through a family: "
        "locked.<family variable>.<field> (hint: e.g. locked.meeting_security.waiting_room)"
    ]


def test_the_pack_name_is_the_file_name() -> None:
    _pack, found = parsed("pack: q\ntitle: t\nrules:\n" + rule_text())
    assert found == [
        "p.yaml:1:7: pack: the pack is named 'q' but its file is p.yaml "
        "(hint: the pack's name equals the file name without .yaml)"
    ]


def test_yaml_problems_come_from_the_strict_loader() -> None:
    text = HEAD + rule_text(severity="high\n    severity: low")
    assert problems_of(text) == [
        "p.yaml:7:5: rules[0].severity: duplicate key (first at line 6) "
        "(hint: keep one of the two; YAML mappings have unique keys)"
    ]
    assert problems_of(HEAD + rule_text(title="&a A rule")) == [
        "p.yaml:5:12: rules[0].title: anchor &a: anchors and aliases are not allowed "
        "(hint: write the value out in full)"
    ]


def test_examples_are_checked() -> None:
    examples = (
        "\n      pass:\n        - {target: {level: room}, meeting_security: {waiting_room: true}}"
        "\n      fail:\n        - {settngs: {}}"
        "\n      later: []"
    )
    assert problems_of(HEAD + rule_text(levels="[user]", examples=examples)) == [
        "p.yaml:12:28: rules[0].examples.pass[0].target.level: must be one of user, "
        "got the string 'room'",
        "p.yaml:14:12: rules[0].examples.fail[0].settngs: unknown key "
        "(hint: did you mean 'settings'?)",
        "p.yaml:15:7: rules[0].examples.later: unknown key "
        "(hint: expected one of: pass, fail, not_applicable)",
    ]


def test_an_unquoted_date_in_an_example_is_a_problem() -> None:
    examples = "\n      pass:\n        - {settings: {in_meeting: {day: 2024-01-31}}}"
    assert problems_of(HEAD + rule_text(examples=examples)) == [
        "p.yaml:12:41: rules[0].examples.pass[0].settings.in_meeting.day: must be a plain value, "
        "got the date 2024-01-31 (hint: quote it: '2024-01-31')"
    ]


def test_an_example_level_defaults_to_the_rules_first_level() -> None:
    examples = "\n      pass:\n        - {meeting_security: {waiting_room: true}}"
    (rule,) = pack_of(rule_text(levels="[group, account]", examples=examples)).rules
    assert rule.examples[0].level == "group"
    wrong = "\n      pass:\n        - {target: {level: user}}"
    assert problems_of(HEAD + rule_text(levels="[group, account]", examples=wrong)) == [
        "p.yaml:12:28: rules[0].examples.pass[0].target.level: the rule does not apply at user "
        "level (hint: its levels: group, account)"
    ]
    assert (rule.examples[0].line, rule.examples[0].col) == (12, 11)


def test_remedy_and_profile_are_checked() -> None:
    assert problems_of(HEAD + rule_text(remedy="{setings: {}}", profile="3")) == [
        "p.yaml:10:14: rules[0].remedy.setings: unknown key (hint: did you mean 'settings'?)",
        "p.yaml:11:14: rules[0].profile: must be 1 or 2 (the CIS profile level), got the number 3",
    ]


def test_load_pack_raises_every_problem_sorted(tmp_path: Path) -> None:
    path = write(tmp_path, "p.yaml", HEAD + rule_text(severity="x", levels="[room]"))
    with pytest.raises(ValidationFailed) as caught:
        load_pack(path, "policies/p.yaml")
    assert [(p.file, p.line) for p in caught.value.problems] == [
        ("policies/p.yaml", 6),
        ("policies/p.yaml", 8),
    ]


def test_a_shipped_pack_needs_pass_and_fail_examples(tmp_path: Path) -> None:
    examples = "\n      pass:\n        - {meeting_security: {waiting_room: true}}"
    path = write(tmp_path, "p.yaml", HEAD + rule_text(examples=examples) + rule_text(id="r2"))
    with pytest.raises(ValidationFailed) as caught:
        load_pack(path, "p.yaml", shipped=True)
    assert [str(problem) for problem in caught.value.problems] == [
        "p.yaml:10:5: rules[0].examples: a shipped rule has at least one fail example",
        "p.yaml:13:5: rules[1]: a shipped rule has pass and fail examples",
    ]
    load_pack(path, "p.yaml")  # a repo's own pack may go without


def test_an_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        load_pack(tmp_path / "none.yaml", "none.yaml")
    assert str(caught.value.problems[0]) == "none.yaml: cannot read: No such file or directory"
