"""A property over the whole planner and the sandbox: for random live values (set through Zoom's
API) and random desired values of a handful of a user's fields, sending the plan's requests makes
a second plan empty of pending changes; what stays is exactly what the first plan blocked.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.plan.model import Plan
from reconciler.sandbox import SandboxConfig
from reconciler.sandbox.config import BUSINESS_RATES
from tests.plan.sandbox_repo import plan_repo, prepare_sandbox, send_requests

UNLIMITED = SandboxConfig().with_changes({"rate_limits": dict.fromkeys(BUSINESS_RATES)})
REGIONS = ["AU", "CA", "DE", "HK", "US"]
OPTION_NAMES = ["Sign in to Zoom", "Sign in to Zoom with specified domains"]
# (family key in a settings file, path): values. Mallory is in no group; the account locks
# join_before_host, so some draws are BLOCKED.
FIELDS: dict[tuple[str, tuple[str, ...]], st.SearchStrategy[Any]] = {
    ("settings", ("in_meeting", "chat")): st.booleans(),
    ("settings", ("in_meeting", "polling")): st.booleans(),
    ("settings", ("in_meeting", "data_center_regions")): st.lists(
        st.sampled_from(REGIONS), unique=True, max_size=3
    ),
    ("settings", ("recording", "auto_recording")): st.sampled_from(["none", "local", "cloud"]),
    ("settings", ("schedule_meeting", "join_before_host")): st.booleans(),
    ("meeting_security", ("waiting_room_settings", "participants_to_place_in_waiting_room")): (
        st.sampled_from([0, 1, 2])
    ),
    ("meeting_security", ("meeting_password_requirement", "length")): st.integers(6, 10),
    ("meeting_authentication", ("meeting_authentication",)): st.booleans(),
    ("meeting_authentication", ("authentication_options", OPTION_NAMES[0], "visible")): (
        st.booleans()
    ),
    ("meeting_authentication", ("authentication_options", OPTION_NAMES[1], "visible")): (
        st.booleans()
    ),
    ("meeting_authentication", ("authentication_options", OPTION_NAMES[1], "default_option")): (
        st.booleans()
    ),
}
PLAIN = [key for key in FIELDS if "authentication_options" not in key[1]]


def _values(keys: list[tuple[str, tuple[str, ...]]]) -> st.SearchStrategy[dict[Any, Any]]:
    return st.fixed_dictionaries({}, optional={key: FIELDS[key] for key in keys})


def _yaml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    return str(value)


def user_file(values: dict[tuple[str, tuple[str, ...]], Any]) -> str:
    tree: dict[str, Any] = {}
    for (family, path), value in values.items():
        node = tree.setdefault(family, {})
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return "".join(_lines(tree, 0))


def _lines(tree: dict[str, Any], depth: int) -> list[str]:
    out = []
    for key, value in tree.items():
        if isinstance(value, dict):
            out += [f"{'  ' * depth}{key}:\n", *_lines(value, depth + 1)]
        else:
            out.append(f"{'  ' * depth}{key}: {_yaml(value)}\n")
    return out


def live_setup(values: dict[tuple[str, tuple[str, ...]], Any]) -> list[dict[str, Any]]:
    """PATCH requests that give Mallory these live values (those Zoom lets a user change)."""
    bodies: dict[str, dict[str, Any]] = {}
    for (family, path), value in values.items():
        option = "general" if family == "settings" else family
        body = bodies.setdefault(option, {})
        node = body.setdefault("meeting_security", {}) if option == "meeting_security" else body
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return [
        {"method": "PATCH", "path": "/v2/users/mallory@acme.test/settings", "query": q, "body": b}
        for option, b in bodies.items()
        for q in [{} if option == "general" else {"option": option}]
    ]


async def _plan(repo: Path) -> Plan:
    return await plan_repo(repo, rate=10_000.0)


async def _round_trip(repo: Path, live: dict[Any, Any]) -> tuple[Plan, Plan]:
    await prepare_sandbox(repo, live_setup(live), config=UNLIMITED)
    first = await _plan(repo)
    await send_requests(repo, first.requests)
    return first, await _plan(repo)


@settings(max_examples=40, deadline=None)
@given(live=_values(PLAIN), desired=_values(list(FIELDS)))
def test_sending_the_plan_leaves_nothing_pending(
    live: dict[Any, Any], desired: dict[Any, Any]
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        (repo / "users").mkdir(parents=True)
        (repo / "reconciler.yaml").write_text("rate_tier: business\n")
        if desired:  # a file that manages nothing is refused: no file manages nothing
            (repo / "users" / "mallory@acme.test.yaml").write_text(user_file(desired))
        first, second = asyncio.run(_round_trip(repo, live))
    assert second.pending == [] and second.requests == []
    assert [(c.option, c.path) for c in second.blocked] == [
        (c.option, c.path) for c in first.blocked
    ]
