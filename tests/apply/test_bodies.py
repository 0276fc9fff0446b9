"""Bodies rebuilt from what is left of a request's changes (apply with a saved plan leaves out
stale fields and those already in place): per family, and for authentication option actions.

Apply never edits a body; it builds the body again from the remaining changes with
`shapes.patch_bodies`, and a field that cannot go without one left out is refused with it.
"""

from __future__ import annotations

from typing import Any

from reconciler.diff import LeafChange
from reconciler.shapes import patch_bodies, unsendable

DOMAINS = ("authentication_options", "Domains")
IDS = {"Domains": "o1"}


def leaf(path: tuple[str, ...], after: Any, before: Any = None) -> LeafChange:
    return LeafChange(path, before, after)


CHAT, POLLING = leaf(("in_meeting", "chat"), False), leaf(("in_meeting", "polling"), True)
LOCAL = leaf(("recording", "local_recording"), True)
WAITING, LENGTH = leaf(("waiting_room",), True), leaf(("meeting_password_requirement", "length"), 8)
SWITCH = leaf(("meeting_authentication",), True)
DOMAIN_LIST, DEFAULT = (
    leaf((*DOMAINS, "domains"), "a.test"),
    leaf((*DOMAINS, "default_option"), True),
)


def body(family: Any, *changes: LeafChange, ids: dict[str, str] = IDS) -> list[dict[str, Any]]:
    return [found.body for found in patch_bodies("user", family, list(changes), ids)]


def test_a_general_field_left_out_takes_the_objects_it_leaves_empty() -> None:
    assert body("general", CHAT, POLLING) == [{"in_meeting": {"chat": False, "polling": True}}]
    assert body("general", POLLING, LOCAL) == [
        {"in_meeting": {"polling": True}, "recording": {"local_recording": True}}
    ]
    assert body("general") == []


def test_meeting_security_fields_sit_under_the_wrapper() -> None:
    assert body("meeting_security", WAITING) == [{"meeting_security": {"waiting_room": True}}]
    assert body("meeting_security", WAITING, LENGTH) == [
        {"meeting_security": {"waiting_room": True, "meeting_password_requirement": {"length": 8}}}
    ]


def test_an_update_action_carries_only_the_keys_left() -> None:
    update = {"action": "update", "id": "o1", "default_option": True}
    assert body("meeting_authentication", SWITCH, DEFAULT) == [
        {"meeting_authentication": True, "authentication_option": update}
    ]
    assert body("meeting_authentication", SWITCH) == [{"meeting_authentication": True}]
    assert body("meeting_authentication", DOMAIN_LIST) == [
        {"authentication_option": {"action": "update", "id": "o1", "domains": "a.test"}}
    ]


def test_an_add_without_its_type_cannot_be_sent() -> None:
    kind = leaf((*DOMAINS, "type"), "t")
    add = {"action": "add", "name": "Domains", "type": "t", "domains": "a.test"}
    assert [
        b.body for b in patch_bodies("account", "meeting_authentication", [kind, DOMAIN_LIST], {})
    ] == [{"authentication_option": add}]
    assert unsendable("account", "meeting_authentication", [DOMAIN_LIST], {}) == {
        DOMAIN_LIST.path: (
            "authentication option 'Domains' does not exist; give its type to create it"
        )
    }


def test_hide_uses_the_id_zoom_has_now() -> None:
    hidden = leaf((*DOMAINS, "visible"), False)
    assert body("meeting_authentication", hidden, ids={"Domains": "o2"}) == [
        {"authentication_option": {"action": "hide", "id": "o2"}}
    ]
