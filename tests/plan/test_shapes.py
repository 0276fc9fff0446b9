"""Between Zoom's shapes and the repo's: the meeting_security wrapper and the authentication
options (a list to read, one action per write), property-tested.

Zoom's side of a write is the sandbox's own model of it (its option actions and the view a group
or user gets), so these properties say: the bodies plan makes, applied the way Zoom applies them,
give the desired managed values and touch nothing else; and the changed paths are what deepdiff
finds on the managed projection.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired.state import leaves as managed_leaves
from reconciler.diff import diff_managed, lookup
from reconciler.sandbox.authopts import apply_account_action, apply_member_action, options_view
from reconciler.sandbox.tenant import AuthChoice
from reconciler.shapes import (
    OPTIONS,
    option_ids,
    patch_bodies,
    repo_shape,
    unsendable,
)
from reconciler.vocab import Level
from tests.plan.merge import merged
from tests.plan.test_diff import DOCUMENTS, _deepdiff_paths, _projection

# -- meeting_security: Zoom wraps the family in an object of the same name ----------------------


@settings(max_examples=200, deadline=None)
@given(current=DOCUMENTS, desired=DOCUMENTS)
def test_meeting_security_bodies_are_wrapped_and_converge(
    current: dict[str, Any], desired: dict[str, Any]
) -> None:
    desired = {k: v for k, v in desired.items() if v != {}}
    live = {"meeting_security": current}
    changes = diff_managed(desired, repo_shape("meeting_security", live))
    after = live
    for body in patch_bodies("user", "meeting_security", changes, {}):
        assert list(body.body) == ["meeting_security"]
        after = merged(after, body.body)
    assert diff_managed(desired, repo_shape("meeting_security", after)) == []
    wanted = dict(managed_leaves(desired))
    assert {"/".join(c.path) for c in changes} == _deepdiff_paths(
        _projection(current, desired), wanted
    )


# -- authentication options ---------------------------------------------------------------------

NAMES = ["Sign in to Zoom", "Domains", "SSO"]
TYPES = ["enforce_login", "enforce_login_with_domains"]


@st.composite
def account_options(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    default = draw(st.sampled_from(names))
    return [
        {
            "id": f"id-{index}",
            "name": name,
            "type": draw(st.sampled_from(TYPES)),
            "default_option": name == default,
            "visible": True,
        }
        for index, name in enumerate(names)
    ]


@st.composite
def member_view(draw: st.DrawFn) -> tuple[list[dict[str, Any]], AuthChoice]:
    """The account's options and a group's or user's choices among them."""
    options = draw(account_options())
    ids = [option["id"] for option in options]
    visible = draw(st.dictionaries(st.sampled_from(ids), st.booleans()))
    default = draw(st.none() | st.sampled_from(ids))
    return options, AuthChoice(visible, default)


def _member_fields(draw: st.DrawFn, default: bool | None) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    visible = draw(st.none() | st.booleans())
    if visible is not None:
        fields["visible"] = visible
    if default is not None:
        fields["default_option"] = default
    return fields


@st.composite
def member_desired(draw: st.DrawFn) -> dict[str, Any]:
    """Desired options below the account: at most one default, as Zoom allows."""
    names = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
    new_default = draw(st.none() | st.sampled_from(names)) if names else None
    options = {}
    for name in names:
        default = True if name == new_default else draw(st.sampled_from([None, False]))
        options[name] = _member_fields(draw, default)
    desired: dict[str, Any] = {OPTIONS: {n: f for n, f in options.items() if f}}
    switch = draw(st.none() | st.booleans())
    if switch is not None:
        desired["meeting_authentication"] = switch
    return {k: v for k, v in desired.items() if v != {}}


@st.composite
def account_desired(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))
    new_default = draw(st.none() | st.sampled_from(names)) if names else None
    options: dict[str, Any] = {}
    for name in names:
        fields: dict[str, Any] = {}
        if draw(st.booleans()):
            fields["type"] = draw(st.sampled_from(TYPES))
        if draw(st.booleans()):
            fields["domains"] = draw(st.sampled_from(["a.test", "b.test"]))
        if name == new_default:
            fields["default_option"] = True
        elif draw(st.booleans()):
            fields["default_option"] = False
        if fields:
            options[name] = fields
    return {OPTIONS: options} if options else {"meeting_authentication": draw(st.booleans())}


def _zoom_doc(switch: bool, options: list[dict[str, Any]]) -> dict[str, Any]:
    return {"meeting_authentication": switch, OPTIONS: options}


def _apply_member(
    doc: dict[str, Any], options: list[dict[str, Any]], choice: AuthChoice, body: dict[str, Any]
) -> dict[str, Any]:
    switch = body.get("meeting_authentication", doc["meeting_authentication"])
    if "authentication_option" in body:
        apply_member_action(options, choice, body["authentication_option"])
    return _zoom_doc(switch, options_view(options, [choice]))


def _apply_account(doc: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    options = copy.deepcopy(doc[OPTIONS])
    if "authentication_option" in body:
        fresh = iter(f"new-{n}" for n in range(10))
        apply_account_action(options, body["authentication_option"], lambda: next(fresh))
    return _zoom_doc(body.get("meeting_authentication", doc["meeting_authentication"]), options)


def _check(
    level: Level, before: dict[str, Any], after: dict[str, Any], desired: dict[str, Any]
) -> None:
    """Sendable changes took; refused ones are exactly the leaves still different."""
    changes = diff_managed(desired, repo_shape("meeting_authentication", before))
    refused = unsendable(level, "meeting_authentication", changes, option_ids(before))
    left = diff_managed(desired, repo_shape("meeting_authentication", after))
    assert {c.path for c in left} == set(refused)
    current = repo_shape("meeting_authentication", before)
    wanted = dict(managed_leaves(desired))
    assert {"/".join(c.path) for c in changes} == _deepdiff_paths(
        _projection(current, desired), wanted
    )


@settings(max_examples=300, deadline=None)
@given(view=member_view(), switch=st.booleans(), desired=member_desired())
def test_member_option_actions_converge(
    view: tuple[list[dict[str, Any]], AuthChoice], switch: bool, desired: dict[str, Any]
) -> None:
    options, choice = view
    before = _zoom_doc(switch, options_view(options, [choice]))
    changes = diff_managed(desired, repo_shape("meeting_authentication", before))
    ids = option_ids(before)
    refused = unsendable("user", "meeting_authentication", changes, ids)
    sendable = [change for change in changes if change.path not in refused]
    after = before
    for body in patch_bodies("user", "meeting_authentication", sendable, ids):
        after = _apply_member(after, options, choice, body.body)
    _check("user", before, after, desired)


@settings(max_examples=300, deadline=None)
@given(options=account_options(), switch=st.booleans(), desired=account_desired())
def test_account_option_actions_converge(
    options: list[dict[str, Any]], switch: bool, desired: dict[str, Any]
) -> None:
    before = _zoom_doc(switch, options)
    changes = diff_managed(desired, repo_shape("meeting_authentication", before))
    ids = option_ids(before)
    refused = unsendable("account", "meeting_authentication", changes, ids)
    sendable = [change for change in changes if change.path not in refused]
    after = before
    for body in patch_bodies("account", "meeting_authentication", sendable, ids):
        after = _apply_account(after, body.body)
    _check("account", before, after, desired)


def test_the_old_default_rides_with_the_new_one() -> None:
    options = [
        {"id": "a", "name": "A", "type": "enforce_login", "default_option": True, "visible": True},
        {"id": "b", "name": "B", "type": "enforce_login", "default_option": False, "visible": True},
    ]
    desired = {OPTIONS: {"A": {"default_option": False}, "B": {"default_option": True}}}
    doc = _zoom_doc(False, options)
    changes = diff_managed(desired, repo_shape("meeting_authentication", doc))
    [body] = patch_bodies("user", "meeting_authentication", changes, option_ids(doc))
    assert body.body == {
        "authentication_option": {"action": "update", "id": "b", "default_option": True}
    }
    assert body.fields == ((OPTIONS, "B", "default_option"), (OPTIONS, "A", "default_option"))
    assert lookup(repo_shape("meeting_authentication", doc), (OPTIONS, "A", "default_option"))
