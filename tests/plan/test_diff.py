from __future__ import annotations

from typing import Any

from deepdiff import DeepDiff
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.desired.state import leaves as managed_leaves
from reconciler.diff import (
    MISSING,
    LeafChange,
    diff_managed,
    lookup,
    patch_body,
    strictly_equal,
)
from tests.plan.merge import merged

CURRENT = {
    "in_meeting": {"waiting_room": False, "chat": True, "allow_live_streaming": False},
    "recording": {"auto_recording": "none", "cloud_recording": True},
    "schedule_meeting": {"jbh_time": 5, "host_video": True},
}


def test_only_managed_keys_are_compared_and_changed_ones_reported() -> None:
    desired = {
        "in_meeting": {"waiting_room": True, "chat": True},
        "recording": {"auto_recording": "cloud"},
    }
    assert diff_managed(desired, CURRENT) == [
        LeafChange(("in_meeting", "waiting_room"), False, True),
        LeafChange(("recording", "auto_recording"), "none", "cloud"),
    ]


def test_patch_body_is_the_smallest_nested_object() -> None:
    desired = {
        "in_meeting": {"waiting_room": True, "chat": True},
        "schedule_meeting": {"jbh_time": 10},
    }
    assert patch_body(diff_managed(desired, CURRENT)) == {
        "in_meeting": {"waiting_room": True},
        "schedule_meeting": {"jbh_time": 10},
    }


def test_bool_is_not_int_and_int_is_not_float() -> None:
    current = {"a": 1, "b": 5.0, "c": True, "d": [1, 2]}
    desired = {"a": True, "b": 5, "c": 1, "d": [1.0, 2]}
    assert [c.path for c in diff_managed(desired, current)] == [("a",), ("b",), ("c",), ("d",)]
    assert not strictly_equal({"x": [True]}, {"x": [1]})
    assert strictly_equal({"x": [True, {"y": "z"}]}, {"x": [True, {"y": "z"}]})


def test_lists_are_leaves_sent_whole() -> None:
    current = {"in_meeting": {"unchecked_data_center_regions": ["EU", "HK"]}}
    desired = {"in_meeting": {"unchecked_data_center_regions": ["EU"]}}
    assert patch_body(diff_managed(desired, current)) == desired


def test_a_field_zoom_does_not_return_is_a_change_from_missing() -> None:
    [change] = diff_managed({"feature": {"meeting_capacity": 300}}, CURRENT)
    assert change.before is MISSING and repr(change.before) == "MISSING"


def test_merged_overlays_objects_and_replaces_leaves() -> None:
    body = {"in_meeting": {"waiting_room": True}, "new": {"x": [1]}}
    result = merged(CURRENT, body)
    assert result["in_meeting"] == {
        "waiting_room": True,
        "chat": True,
        "allow_live_streaming": False,
    }
    assert result["new"] == {"x": [1]} and result["recording"] == CURRENT["recording"]


# -- property: the plan converges, and agrees with deepdiff --------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
SCALARS = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["x", "y", ""]),
    st.none(),
)
LEAVES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3))
DOCUMENTS = st.recursive(
    st.dictionaries(KEYS, LEAVES, max_size=4),
    lambda children: st.dictionaries(KEYS, st.one_of(LEAVES, children), max_size=4),
    max_leaves=20,
)


def _projection(document: Any, desired: dict[str, Any]) -> dict[tuple[str, ...], Any]:
    return {path: lookup(document, path) for path, _ in managed_leaves(desired)}


def _typed(value: Any) -> Any:
    """Tag every scalar with its JSON type: deepdiff, like Python, holds True == 1 inside lists."""
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return [type(value).__name__, value]


def _deepdiff_paths(
    before: dict[tuple[str, ...], Any], after: dict[tuple[str, ...], Any]
) -> set[str]:
    # Keys are paths; compare each managed leaf with types strict and lists whole.
    report = DeepDiff(
        {"/".join(k): _typed(v) for k, v in before.items()},
        {"/".join(k): _typed(v) for k, v in after.items()},
        ignore_order=False,
        ignore_numeric_type_changes=False,
        view="tree",
    )
    return {item.path(output_format="list")[0] for items in report.values() for item in items}


@settings(max_examples=300, deadline=None)
@given(current=DOCUMENTS, desired=DOCUMENTS)
def test_applying_the_plan_gives_the_desired_managed_keys_and_leaves_others(
    current: dict[str, Any], desired: dict[str, Any]
) -> None:
    desired = {k: v for k, v in desired.items() if v != {}}
    changes = diff_managed(desired, current)
    after = merged(current, patch_body(changes))
    assert diff_managed(desired, after) == []  # a second plan is empty
    managed = {path for path, _ in managed_leaves(desired)}
    untouched = {path: v for path, v in _all_leaves(current) if not _under_any(path, managed)}
    assert {p: v for p, v in _all_leaves(after) if p in untouched} == untouched
    before_projection = _projection(current, desired)
    wanted = dict(managed_leaves(desired))
    assert {"/".join(c.path) for c in changes} == _deepdiff_paths(before_projection, wanted)


def _all_leaves(document: dict[str, Any]) -> list[tuple[tuple[str, ...], Any]]:
    return list(managed_leaves(document))


def _under_any(path: tuple[str, ...], managed: set[tuple[str, ...]]) -> bool:
    return any(path[: len(m)] == m or m[: len(path)] == path for m in managed)
