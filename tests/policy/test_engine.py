"""Evaluating rules: pass, fail, not applicable, unknown; locked; weakening."""

from __future__ import annotations

import cel

from reconciler.diagnostic import Severity
from reconciler.diff import MISSING
from reconciler.policy import Outcome, TargetContext, diagnostic
from tests.policy.helpers import account, engine_of, rule_text, user

WAITING_ROOM = rule_text()


def outcomes(engine_rules: tuple[str, ...], context: TargetContext) -> list[tuple[str, str]]:
    results = engine_of(*engine_rules).evaluate(context)
    return [(result.outcome.value, result.error or "") for result in results]


def test_pass_and_fail() -> None:
    engine = engine_of(WAITING_ROOM)
    (passed,) = engine.evaluate(user(meeting_security={"waiting_room": True}))
    (failed,) = engine.evaluate(user(meeting_security={"waiting_room": False}))
    assert (passed.outcome, failed.outcome) == (Outcome.PASS, Outcome.FAIL)
    assert passed.rule.id == "r1"


def test_a_missing_field_is_not_applicable_never_a_pass() -> None:
    engine = engine_of(rule_text(expr="meeting_security.waiting_room == true || true"))
    for context in (
        user(meeting_security={"meeting_password": True}),
        user(general={"in_meeting": {"chat": True}}),  # the family was not read at all
        user(meeting_security={"waiting_room": {"nested": True}}, general={}),
    ):
        (result,) = engine.evaluate(context)
        expected = (
            Outcome.PASS
            if context.documents.get("meeting_security", {}).get("waiting_room")
            else Outcome.NOT_APPLICABLE
        )
        assert result.outcome is expected


def test_a_path_through_a_leaf_is_not_applicable() -> None:
    engine = engine_of(rule_text(expr="settings.in_meeting.chat.enable == true"))
    (result,) = engine.evaluate(user(general={"in_meeting": {"chat": True}}))
    assert result.outcome is Outcome.NOT_APPLICABLE


def test_a_field_inside_has_is_read_but_not_required() -> None:
    expr = "!has(settings.in_meeting.chat) || settings.in_meeting.chat == false"
    engine = engine_of(rule_text(expr=f"'{expr}'"))
    (absent,) = engine.evaluate(user(general={"in_meeting": {}}))
    (present,) = engine.evaluate(user(general={"in_meeting": {"chat": True}}))
    # the second read of chat is outside has(): required, so its absence is not applicable
    assert absent.outcome is Outcome.NOT_APPLICABLE
    assert present.outcome is Outcome.FAIL
    only_has = engine_of(rule_text(expr="'!has(settings.in_meeting.chat)'"))
    (result,) = only_has.evaluate(user(general={"in_meeting": {}}))
    assert result.outcome is Outcome.PASS


def test_an_evaluation_error_is_unknown_with_its_text() -> None:
    rules = (
        rule_text(id="type", expr="meeting_security.waiting_room > 1"),
        rule_text(id="zero", expr="10 / meeting_security.length > 1"),
        rule_text(id="not-bool", expr="meeting_security.length"),
        rule_text(id="function", expr="nosuch(meeting_security.length)"),
        rule_text(id="fine", expr="meeting_security.length == 0"),
    )
    found = outcomes(rules, user(meeting_security={"waiting_room": True, "length": 0}))
    assert [outcome for outcome, _error in found] == [
        "unknown",
        "unknown",
        "unknown",
        "unknown",
        "pass",
    ]
    assert "division by zero" in found[1][1]
    assert found[2][1] == "expr gave 0, not true or false"
    assert "nosuch" in found[3][1]


def test_a_value_cel_cannot_take_is_unknown_for_the_rules_that_read_it() -> None:
    engine = engine_of(WAITING_ROOM, rule_text(id="other", expr="meeting_security.length == 1"))
    context = user(meeting_security={"waiting_room": object(), "length": 1})
    found = [(result.rule.id, result.outcome) for result in engine.evaluate(context)]
    assert found == [("r1", Outcome.UNKNOWN), ("other", Outcome.PASS)]


def test_rules_run_at_their_levels_only() -> None:
    engine = engine_of(
        WAITING_ROOM,
        rule_text(id="account-only", levels="[account]"),
        rule_text(id="users-only", levels="[user]"),
    )
    ids = [result.rule.id for result in engine.evaluate(user(meeting_security={}))]
    assert ids == ["r1", "users-only"]
    assert [rule.id for rule in engine.rules_at("account")] == ["r1", "account-only"]


def test_locked_is_false_for_every_leaf_and_true_where_given() -> None:
    expr = (
        "locked.meeting_security.waiting_room == true"
        " && locked.settings.in_meeting.chat == false"
        " && locked.meeting_security.meeting_password_requirement.length == false"
    )
    engine = engine_of(rule_text(levels="[account]", expr=f"'{expr}'"))
    documents = {
        "meeting_security": {"waiting_room": True, "meeting_password_requirement": {"length": 8}},
        "general": {"in_meeting": {"chat": True}},
    }
    locked = {"meeting_security": {"waiting_room": True}}
    (result,) = engine.evaluate(account(**documents, locked=locked))
    assert result.outcome is Outcome.PASS
    (unlocked,) = engine.evaluate(account(**documents))
    assert unlocked.outcome is Outcome.FAIL


def test_locked_over_a_section_is_the_sections_leaves() -> None:
    expr = (
        "locked.meeting_security.meeting_password_requirement"
        " == {'length': true, 'have_number': false}"
    )
    engine = engine_of(rule_text(levels="[account]", expr=f'"{expr}"'))
    documents = {
        "meeting_security": {"meeting_password_requirement": {"length": 8, "have_number": True}}
    }
    locked = {"meeting_security": {"meeting_password_requirement": {"length": True}}}
    (result,) = engine.evaluate(account(**documents, locked=locked))
    assert result.outcome is Outcome.PASS


def test_a_lock_of_a_field_the_documents_lack_is_not_applicable() -> None:
    engine = engine_of(rule_text(levels="[account]", expr="locked.meeting_security.waiting_room"))
    (result,) = engine.evaluate(
        account(meeting_security={}, locked={"meeting_security": {"waiting_room": True}})
    )
    assert result.outcome is Outcome.NOT_APPLICABLE


def test_target_and_authentication_options_by_name() -> None:
    expr = (
        "target.level == 'user' && 'Staff' in target.groups && target.email.endsWith('@acme.test')"
        " && meeting_authentication.authentication_options['Sign in to Zoom'].visible == true"
    )
    engine = engine_of(rule_text(expr=f'"{expr}"'))
    options = {"authentication_options": {"Sign in to Zoom": {"visible": True}}}
    context = TargetContext(
        "user",
        email="a@acme.test",
        groups=("Staff",),
        documents={"meeting_authentication": options},
    )
    (result,) = engine.evaluate(context)
    assert result.outcome is Outcome.PASS


def test_bound_fields_mean_the_same_as_the_documents() -> None:
    """The engine binds each path as a variable; the expression as written over the variables
    of `Engine.variables` must give the same result."""
    exprs = [
        "settings.in_meeting.data_center_regions.exists(r, r == 'US')",
        "size(settings.in_meeting.data_center_regions) > 1 && settings.in_meeting.chat",
        "settings.in_meeting['chat'] != settings.in_meeting.polling",
        "meeting_security.meeting_password_requirement.length + 1 >= 9",
    ]
    rules = [rule_text(id=f"r{i}", expr=f'"{expr}"') for i, expr in enumerate(exprs)]
    engine = engine_of(*rules)
    context = user(
        general={
            "in_meeting": {"data_center_regions": ["US", "DE"], "chat": True, "polling": False}
        },
        meeting_security={"meeting_password_requirement": {"length": 8}},
    )
    variables = engine.variables(context)
    for rule, result in zip(engine.rules, engine.evaluate(context), strict=True):
        direct = cel.compile(rule.expr).execute(variables)
        assert result.outcome is (Outcome.PASS if direct else Outcome.FAIL), rule.expr


WEAKENS = rule_text(weakens="before == true && after != true")


def test_weakening_names_the_rules_that_read_the_field() -> None:
    engine = engine_of(
        WEAKENS,
        rule_text(id="no-weakens"),
        rule_text(
            id="other-field", expr="meeting_security.meeting_password == true", weakens="'true'"
        ),
        rule_text(id="account-only", levels="[account]", weakens="'true'"),
    )
    context = user(meeting_security={"waiting_room": True})
    found = engine.weakening("user", "meeting_security", ("waiting_room",), True, False, context)
    assert [rule.id for rule in found] == ["r1"]
    assert (
        engine.weakening("user", "meeting_security", ("waiting_room",), False, True, context) == []
    )
    assert engine.weakening("user", "general", ("waiting_room",), True, False, context) == []


def test_weakening_of_a_section_matches_the_fields_under_it() -> None:
    expr = "meeting_security.meeting_password_requirement.length >= 8"
    engine = engine_of(rule_text(expr=f"'{expr}'", weakens="'true'"))
    context = user()
    section = ("meeting_password_requirement",)
    assert engine.weakening("user", "meeting_security", section, MISSING, {"length": 4}, context)


def test_weakening_of_a_lock() -> None:
    expr = "locked.meeting_security.waiting_room == true"
    engine = engine_of(
        rule_text(levels="[account]", expr=expr, weakens="lock && before == true && after == false")
    )
    context = account(meeting_security={"waiting_room": True})
    path = ("waiting_room",)
    assert engine.weakening("account", "meeting_security", path, True, False, context, lock=True)
    # the rule reads the lock, not the setting
    assert not engine.weakening("account", "meeting_security", path, True, False, context)


def test_weakens_sees_target_and_documents_and_null_for_missing() -> None:
    weakens = "'before == null && target.email == \"a@acme.test\" && meeting_security.waiting_room'"
    engine = engine_of(rule_text(weakens=weakens))
    context = user(meeting_security={"waiting_room": True})
    assert engine.weakening("user", "meeting_security", ("waiting_room",), MISSING, False, context)


def test_a_weakens_that_cannot_be_evaluated_counts_as_weakening() -> None:
    engine = engine_of(
        rule_text(weakens="before > 8"), rule_text(id="r2", weakens="\"'yes' + before\"")
    )
    context = user(meeting_security={"waiting_room": True})
    found = engine.weakening("user", "meeting_security", ("waiting_room",), True, False, context)
    assert [rule.id for rule in found] == ["r1", "r2"]


def test_a_diagnostic_for_a_failing_or_unknown_result() -> None:
    engine = engine_of(WAITING_ROOM)
    (failed,) = engine.evaluate(user(meeting_security={"waiting_room": False}))
    found = diagnostic(failed, "user a@acme.test")
    assert found is not None
    assert (found.code, found.severity, found.where, found.target) == (
        "p/r1",
        Severity.ERROR,
        "p.yaml:4",
        "user a@acme.test",
    )
    assert found.message == "r1: A rule: fails (Because.)"
    (passed,) = engine.evaluate(user(meeting_security={"waiting_room": True}))
    assert diagnostic(passed, "user a@acme.test") is None
