"""Any doubt about what Zoom enforces on a user means a read: the cases `audit.inference` refuses,
each beside the one it allows, over real lock views and a repo on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.audit.inference import Inference
from reconciler.desired import load_repo
from reconciler.desired.state import DesiredState
from reconciler.live.locks import ACCOUNT, Holder, LockView
from reconciler.policy import Engine
from reconciler.policy.rules import pack_of_bytes

RULES = """\
pack: doubts
title: Doubts
rules:
  - id: file-transfer
    title: No file transfer
    severity: medium
    rationale: Files bypass the mail filters.
    levels: [user]
    expr: settings.in_meeting.file_transfer == false
"""
SECTION = """\
  - id: meeting-section
    title: The in-meeting section is set
    severity: low
    rationale: A rule over a whole section.
    levels: [user]
    expr: size(settings.in_meeting) > 0
"""
DIVERGENT = """\
  - id: call-out
    title: No call-out countries
    severity: low
    rationale: Zoom types the field differently per level.
    levels: [user]
    expr: size(settings.tsp.call_out_countries) == 0
"""
FILE_TRANSFER = {"in_meeting": {"file_transfer": True}}
GROUP = Holder("group", "Sales", "g1")


def _repo(tmp_path: Path, files: dict[str, str]) -> DesiredState:
    for name, text in {"reconciler.yaml": "{}\n", **files}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return load_repo(tmp_path)


def _inference(state: DesiredState, rules: str = RULES) -> Inference:
    engine = Engine([pack_of_bytes("doubts.yaml", rules.encode(), "doubts", False)])
    inference = Inference(state, engine, ("general",), on=True)
    values = {"in_meeting": {"file_transfer": False, "chat": True}, "tsp": {}}
    values["tsp"]["call_out_countries"] = ["US"]
    inference.keep_holder(ACCOUNT.id, {"general": values})
    inference.keep_holder(GROUP.id, {"general": {"in_meeting": {"file_transfer": True}}})
    return inference


def _view(holder: Holder, general: dict[str, Any]) -> LockView:
    return LockView(holder, {"general": general, "meeting_security": {}}, None, applied=False)


def test_a_field_the_account_locks_is_inferred_with_its_value(tmp_path: Path) -> None:
    inference = _inference(_repo(tmp_path, {}))
    views = (_view(ACCOUNT, FILE_TRANSFER),)
    found = inference.infer("general", None, views, 0)
    assert found == ({"in_meeting": {"file_transfer": False}}, "the account")
    assert inference.reads_skipped == 1


def test_a_field_no_lock_covers_is_read(tmp_path: Path) -> None:
    inference = _inference(_repo(tmp_path, {}))
    views = (_view(ACCOUNT, {"in_meeting": {"chat": True}}),)
    assert inference.infer("general", None, views, 0) is None
    assert inference.reads_skipped == 0


def test_a_managed_field_without_a_lock_makes_the_family_a_read(tmp_path: Path) -> None:
    state = _repo(
        tmp_path, {"users/ann@acme.test.yaml": "settings:\n  in_meeting:\n    chat: false\n"}
    )
    inference = _inference(state)
    desired = state.users["ann@acme.test"].settings
    views = (_view(ACCOUNT, FILE_TRANSFER),)
    assert inference.infer("general", desired, views, 0) is None
    locked = (_view(ACCOUNT, {"in_meeting": {"file_transfer": True, "chat": True}}),)
    assert inference.infer("general", desired, locked, 0) == (
        {"in_meeting": {"file_transfer": False, "chat": True}},
        "the account",
    )


def test_a_groups_lock_counts_only_for_a_user_in_that_one_group(tmp_path: Path) -> None:
    inference = _inference(_repo(tmp_path, {}))
    views = (_view(ACCOUNT, {}), _view(GROUP, FILE_TRANSFER))
    assert inference.infer("general", None, views, 1) == (
        {"in_meeting": {"file_transfer": True}},
        "group Sales",
    )
    assert inference.infer("general", None, views, 2) is None


def test_a_holder_whose_value_is_not_known_is_read(tmp_path: Path) -> None:
    inference = _inference(_repo(tmp_path, {}))
    other = Holder("group", "Support", "g2")  # its own read failed: nothing kept
    assert inference.infer("general", None, (_view(other, FILE_TRANSFER),), 1) is None


def test_a_section_read_whole_is_not_inferred_from_a_lock_inside_it(tmp_path: Path) -> None:
    inference = _inference(_repo(tmp_path, {}), RULES + SECTION)
    views = (_view(ACCOUNT, {"in_meeting": {"file_transfer": True, "chat": True}}),)
    assert inference.infer("general", None, views, 0) is None


def test_a_field_zoom_types_differently_per_level_is_read(tmp_path: Path) -> None:
    inference = _inference(_repo(tmp_path, {}), RULES + DIVERGENT)
    locks = {"in_meeting": {"file_transfer": True}, "tsp": {"call_out_countries": True}}
    assert inference.infer("general", None, (_view(ACCOUNT, locks),), 0) is None


def test_read_all_turns_inference_off(tmp_path: Path) -> None:
    state = _repo(tmp_path, {})
    engine = Engine([pack_of_bytes("doubts.yaml", RULES.encode(), "doubts", False)])
    inference = Inference(state, engine, ("general",), on=False)
    inference.keep_holder(ACCOUNT.id, {"general": {"in_meeting": {"file_transfer": False}}})
    assert inference.infer("general", None, (_view(ACCOUNT, FILE_TRANSFER),), 0) is None
