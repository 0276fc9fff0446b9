"""Plan format 3 says in each request what it writes (`writes`: settings or locks); format 2
left it to the request's path. A format 2 plan still loads, reads the same, and is written back
as it was read, so its checksum (which the apply report quotes) still holds."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from reconciler.errors import PlanRefused
from reconciler.plan.model import FORMAT_VERSION, Plan, Request, Writes, checksum, plan_from_json
from tests.render.plans import ACCOUNT, ENGINEERING, sample_plan

LOCK_BODY = {"in_meeting": {"chat": True}}


def _plan() -> Plan:
    plan = sample_plan()
    plan.requests += [
        Request(ACCOUNT, "general", Writes.LOCKS, LOCK_BODY, (("in_meeting", "chat"),)),
        Request(ENGINEERING, "meeting_security", Writes.LOCKS, {"meeting_security": {}}, ()),
    ]
    return plan


def _signed(data: dict[str, Any]) -> dict[str, Any]:
    body = {key: value for key, value in data.items() if key != "checksum"}
    return {**body, "checksum": checksum(body)}


def _as_format_2(data: dict[str, Any]) -> dict[str, Any]:
    old = copy.deepcopy(data)
    old["format_version"] = 2
    for request in old["requests"]:
        del request["writes"]
    return _signed(old)


def _typed(plan: Plan) -> list[tuple[str, str, Writes, str]]:
    return [(r.target.label, r.family, r.writes, r.path) for r in plan.requests]


WRITTEN = [
    ("user alice@acme.test", "general", Writes.SETTINGS, "/users/u-alice/settings"),
    ("account", "general", Writes.LOCKS, "/accounts/me/lock_settings"),
    ("group Engineering", "meeting_security", Writes.LOCKS, "/groups/g-eng/lock_settings"),
]


def test_format_3_writes_what_each_request_writes() -> None:
    data = _plan().to_json()
    assert (FORMAT_VERSION, data["format_version"]) == (3, 3)
    assert [r["writes"] for r in data["requests"]] == ["settings", "locks", "locks"]
    loaded = plan_from_json(data)
    assert _typed(loaded) == WRITTEN
    assert loaded.to_json() == data


def test_a_format_2_plan_loads_as_it_was_and_keeps_its_checksum() -> None:
    old = _as_format_2(_plan().to_json())
    loaded = plan_from_json(old)
    assert _typed(loaded) == WRITTEN
    assert loaded.format_version == 2
    assert loaded.to_json() == old  # written back in format 2, so the checksum is the file's
    assert "writes" not in loaded.to_json()["requests"][0]


def test_a_request_whose_writes_contradicts_its_path_is_refused() -> None:
    data = copy.deepcopy(_plan().to_json())
    data["requests"][1]["writes"] = "settings"  # the account's lock PATCH, said to be settings
    with pytest.raises(PlanRefused) as refused:
        plan_from_json(_signed(data))
    assert refused.value.message == (
        "the plan's request PATCH /accounts/me/lock_settings is not the PATCH of account's "
        "general settings: plan again"
    )


def test_a_request_that_writes_something_else_is_refused_as_edited() -> None:
    data = copy.deepcopy(_plan().to_json())
    data["requests"][0]["writes"] = "passwords"
    with pytest.raises(PlanRefused) as refused:
        plan_from_json(_signed(data))
    assert refused.value.message == (
        "the plan is not one reconciler wrote (a field of the wrong type): it was edited; "
        "plan again"
    )


def test_a_format_3_request_without_writes_is_refused_as_edited() -> None:
    data = copy.deepcopy(_plan().to_json())
    del data["requests"][2]["writes"]
    with pytest.raises(PlanRefused) as refused:
        plan_from_json(_signed(data))
    assert refused.value.message == (
        "the plan is not one reconciler wrote (no 'writes'): it was edited; plan again"
    )
