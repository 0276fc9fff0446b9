"""Which fields an expression reads, found in its text; and the rewrite the engine compiles."""

from __future__ import annotations

import pytest

from reconciler.policy.celexpr import bare_locked, reads, rewrite

MS, GEN, MA = "meeting_security", "general", "meeting_authentication"


@pytest.mark.parametrize(
    ("expr", "fields", "locks", "required"),
    [
        ("meeting_security.waiting_room == true", {(MS, ("waiting_room",))}, set(), None),
        (
            "settings.in_meeting.chat && locked.settings.in_meeting.chat",
            {(GEN, ("in_meeting", "chat"))},
            {(GEN, ("in_meeting", "chat"))},
            None,
        ),
        (
            'meeting_authentication.authentication_options["Sign in to Zoom"].type == "x"',
            {(MA, ("authentication_options", "Sign in to Zoom", "type"))},
            set(),
            None,
        ),
        # a method call ends the path; a computed index too
        (
            "meeting_security.block_user_domain_list.exists(d, d == 'a') && settings[k]",
            {(MS, ("block_user_domain_list",)), (GEN, ())},
            set(),
            None,
        ),
        # string literals and names after another variable are not fields
        ("target.name == 'settings.in_meeting.chat' && target.settings", set(), set(), None),
        ("has(settings.in_meeting.chat)", {(GEN, ("in_meeting", "chat"))}, set(), set()),
        ("settings . in_meeting . chat", {(GEN, ("in_meeting", "chat"))}, set(), None),
        ("size(settings.a.b) > 1.5e3", {(GEN, ("a", "b"))}, set(), None),
    ],
)  # fmt: skip
def test_reads(
    expr: str, fields: set[object], locks: set[object], required: set[object] | None
) -> None:
    found = reads(expr)
    assert found.fields == fields
    assert found.locks == locks
    assert found.required == (fields | locks if required is None else required)


def test_rewrite_replaces_each_path_outside_has() -> None:
    expr = (
        "(meeting_security.waiting_room && locked.meeting_security.waiting_room)"
        " || has(settings.in_meeting.chat) && settings.in_meeting.regions.exists(r, r == 'US')"
    )
    names: dict[object, str] = {}
    rewritten = rewrite(expr, lambda o: names.setdefault((o.lock, o.field), f"_zr{len(names)}"))
    assert rewritten == (
        "(_zr0 && _zr1) || has(settings.in_meeting.chat) && _zr2.exists(r, r == 'US')"
    )


def test_bare_locked() -> None:
    assert bare_locked("size(locked) > 0")
    assert bare_locked("locked.in_meeting.chat")
    assert not bare_locked("locked['settings'].in_meeting.chat")
