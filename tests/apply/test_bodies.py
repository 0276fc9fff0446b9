"""Leaving fields out of a PATCH body: per family, and for authentication option actions."""

from __future__ import annotations

from typing import Any

from reconciler.apply.bodies import body_without, inseparable
from reconciler.plan.model import Request, TargetRef, Writes
from reconciler.vocab import family_of_option

USER = TargetRef("user", "u1", email="u1@example.test")
DOMAINS = ("authentication_options", "Domains")


def request(option: str | None, body: dict[str, Any], *fields: tuple[str, ...]) -> Request:
    return Request(USER, family_of_option(option), Writes.SETTINGS, body, fields)


GENERAL = request(
    None,
    {"in_meeting": {"chat": False, "polling": True}, "recording": {"local_recording": True}},
    ("in_meeting", "chat"),
    ("in_meeting", "polling"),
    ("recording", "local_recording"),
)
SECURITY = request(
    "meeting_security",
    {"meeting_security": {"waiting_room": True, "meeting_password_requirement": {"length": 8}}},
    ("waiting_room",),
    ("meeting_password_requirement", "length"),
)
UPDATE = request(
    "meeting_authentication",
    {
        "meeting_authentication": True,
        "authentication_option": {
            "action": "update",
            "id": "o1",
            "domains": "a.test",
            "default_option": True,
        },
    },
    ("meeting_authentication",),
    (*DOMAINS, "domains"),
    (*DOMAINS, "default_option"),
)
ADD = request(
    "meeting_authentication",
    {"authentication_option": {"action": "add", "name": "Domains", "type": "t", "domains": "a"}},
    (*DOMAINS, "type"),
    (*DOMAINS, "domains"),
)
HIDE = request(
    "meeting_authentication",
    {"meeting_authentication": True, "authentication_option": {"action": "hide", "id": "o1"}},
    ("meeting_authentication",),
    (*DOMAINS, "visible"),
)


def test_nothing_left_out_is_the_planned_body() -> None:
    assert body_without(GENERAL, set()) is GENERAL.body


def test_a_general_field_goes_with_the_objects_it_leaves_empty() -> None:
    assert body_without(GENERAL, {("recording", "local_recording")}) == {
        "in_meeting": {"chat": False, "polling": True}
    }
    assert body_without(GENERAL, {("in_meeting", "chat")}) == {
        "in_meeting": {"polling": True},
        "recording": {"local_recording": True},
    }
    assert body_without(GENERAL, set(GENERAL.fields)) is None
    assert GENERAL.body["in_meeting"] == {"chat": False, "polling": True}  # not changed


def test_meeting_security_fields_sit_under_the_wrapper() -> None:
    assert body_without(SECURITY, {("meeting_password_requirement", "length")}) == {
        "meeting_security": {"waiting_room": True}
    }
    assert body_without(SECURITY, set(SECURITY.fields)) is None


def test_an_update_action_loses_single_keys() -> None:
    left = body_without(UPDATE, {(*DOMAINS, "domains")})
    assert left == {
        "meeting_authentication": True,
        "authentication_option": {"action": "update", "id": "o1", "default_option": True},
    }
    both = body_without(UPDATE, {(*DOMAINS, "domains"), (*DOMAINS, "default_option")})
    assert both == {"meeting_authentication": True}
    assert body_without(UPDATE, {("meeting_authentication",)}) == {
        "authentication_option": UPDATE.body["authentication_option"]
    }
    assert inseparable(UPDATE, {(*DOMAINS, "domains")}) == set()


def test_add_show_and_hide_go_whole_or_not_at_all() -> None:
    assert inseparable(ADD, {(*DOMAINS, "type")}) == {(*DOMAINS, "domains")}
    assert inseparable(ADD, set()) == set()
    assert body_without(ADD, set(ADD.fields)) is None
    assert body_without(HIDE, {(*DOMAINS, "visible")}) == {"meeting_authentication": True}
    assert body_without(HIDE, {("meeting_authentication",)}) == {
        "authentication_option": {"action": "hide", "id": "o1"}
    }
