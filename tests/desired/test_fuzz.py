"""Random bytes and random YAML never crash the loader: a state, or clear, located problems."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.desired import load_repo
from reconciler.errors import ValidationFailed

FILES = ("users/alice@acme.test.yaml", "groups/Sales.yaml", "account.yaml", "reconciler.yaml")
KEYS = st.sampled_from(
    [
        "settings",
        "in_meeting",
        "chat",
        "waiting_room",
        "meeting_security",
        "recording",
        "auto_recording",
        "locks",
        "members",
        "priority",
        "user",
        "group",
        "id",
        "meeting_authentication",
        "authentication_options",
        "Sign in to Zoom",
        "visible",
        "meeting_password_requirement",
        "length",
        "rate_tier",
        "safety",
        "defaults_file",
    ]
) | st.text(max_size=12)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(["on", "yes", "2024-01-31", "cloud", "true", "8"])
    | st.text(max_size=20)
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
YAMLISH = st.text(
    alphabet=" \t\n:-[]{}#&*!|>'\"%@`,?~.019aeonsy\x00\x85\u2028\ufeffé", max_size=120
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(rel: str, raw: bytes) -> str:
    """Load a repo holding just `raw` at `rel`: "ok", or the problems, each fully located."""
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        try:
            load_repo(tmp)
        except ValidationFailed as failed:
            assert failed.problems
            for found in failed.problems:
                assert found.file and found.line and found.line >= 1
                assert found.col and found.col >= 1 and found.message
            return "\n".join(str(found) for found in failed.problems)
    return "ok"


def dump(data: Any) -> bytes:
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, out)
    return out.getvalue().encode("utf-8", "surrogatepass")


@FUZZ
@given(st.sampled_from(FILES), st.binary(max_size=300))
def test_random_bytes(rel: str, raw: bytes) -> None:
    outcome(rel, raw)


@FUZZ
@given(st.sampled_from(FILES), YAMLISH)
def test_random_yaml_text(rel: str, text: str) -> None:
    outcome(rel, text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.sampled_from(FILES), DOCUMENTS)
def test_random_yaml_documents(rel: str, data: Any) -> None:
    outcome(rel, dump(data))


@FUZZ
@given(st.dictionaries(st.sampled_from(["chat", "polling", "waitng_room"]), SCALARS, min_size=1))
def test_valid_or_located(in_meeting: dict[str, Any]) -> None:
    text = outcome("users/alice@acme.test.yaml", dump({"settings": {"in_meeting": in_meeting}}))
    good = all(k != "waitng_room" and isinstance(v, bool) for k, v in in_meeting.items())
    assert (text == "ok") == good
    assert good or text.startswith("users/alice@acme.test.yaml:")
