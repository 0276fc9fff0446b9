"""Plans built by hand for the renderer tests: every kind of target, family, marker and outcome."""

from __future__ import annotations

from typing import Any

from reconciler.diff import MISSING
from reconciler.plan.model import Change, Plan, Request, Status, Summary, Unknown, Writes
from reconciler.targets import TargetRef
from reconciler.vocab import family_of_option

ACCOUNT = TargetRef("account", "me")
ENGINEERING = TargetRef("group", "g-eng", name="Engineering")
ALICE = TargetRef("user", "u-alice", email="alice@acme.test")
DAVE = TargetRef("user", "u-dave", email="dave@acme.test")
BOB = TargetRef("user", "u-bob", email="bob@acme.test")
CAROL = TargetRef("user", "u-carol", email="carol@acme.test")


def change(
    target: TargetRef, path: str, before: Any, after: Any, line: int, **extra: Any
) -> Change:
    """A change to dotted `path`, from the file that `target` would be managed in."""
    family = family_of_option(extra.pop("option", None))
    status = Status(extra.pop("status", "pending"))
    writes = Writes.LOCKS if extra.pop("locks", False) else Writes.SETTINGS
    source = f"{source_file(target)}:{line}:5"
    return Change(
        target,
        family,
        tuple(path.split(".")),
        before,
        after,
        source,
        status,
        writes=writes,
        **extra,
    )


def source_file(target: TargetRef) -> str:
    if target.kind == "account":
        return "account.yaml"
    if target.kind == "group":
        return f"groups/{(target.name or '').lower()}.yaml"
    return f"users/{target.email}.yaml"


BLOCKED_REASON = "locked by group Engineering, groups/engineering.yaml:4:5: change it there"
SAMPLE_CHANGES = [
    change(ACCOUNT, "in_meeting.chat", True, False, 3),
    change(ACCOUNT, "in_meeting.waiting_room", False, True, 8, locks=True),
    change(ACCOUNT, "waiting_room", MISSING, True, 12, option="meeting_security", locks=True),
    change(ENGINEERING, "waiting_room", False, True, 6, option="meeting_security"),
    change(
        ENGINEERING,
        "block_user_domain_list",
        ["acme.test"],
        ["acme.test", "partner.test"],
        7,
        option="meeting_security",
    ),
    change(
        ENGINEERING,
        "authentication_options.default",
        "Sign in to Zoom",
        "Acme SSO",
        9,
        option="meeting_authentication",
    ),
    change(
        ENGINEERING,
        "authentication_options.enable",
        False,
        True,
        12,
        option="recording_authentication",
    ),
    change(ALICE, "in_meeting.waiting_room", False, True, 7),
    change(ALICE, "feature.meeting_capacity", MISSING, 300, 9),
    change(
        ALICE,
        "schedule_meeting.personal_meeting_topic",
        None,
        'Use `zoom` | not "teams" — ünïcode',
        11,
    ),
    change(
        DAVE, "in_meeting.screen_sharing", False, True, 5, status="blocked", reason=BLOCKED_REASON
    ),
]


def sample_plan() -> Plan:
    return Plan(
        changes=list(SAMPLE_CHANGES),
        requests=[
            Request(
                ALICE,
                "general",
                Writes.SETTINGS,
                {"in_meeting": {"waiting_room": True}, "feature": {"meeting_capacity": 300}},
                (("in_meeting", "waiting_room"), ("feature", "meeting_capacity")),
            ),
        ],
        unknown=[
            Unknown(BOB, "meeting_security", "Zoom error 1001: User does not exist: bob@acme.test"),
            Unknown(CAROL, None, "429 Too Many Requests after 5 retries"),
        ],
        summary=Summary(
            targets=14,
            targets_in_sync=8,
            targets_with_changes=4,
            changes_pending=10,
            changes_blocked=1,
            unknown_targets=2,
            reads_skipped_locked=3,
            targets_skipped_unchanged=0,
            requests_sent=31,
        ),
        repo_commit="3f2c1e0a9b8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e",
        repo_path="examples/acme",
    )


def in_sync_plan() -> Plan:
    summary = Summary(
        targets=9,
        targets_in_sync=9,
        reads_skipped_locked=2,
        targets_skipped_unchanged=40,
        requests_sent=12,
    )
    return Plan(summary=summary, repo_commit=None, repo_path="examples/acme")


def many_targets_plan(count: int) -> Plan:
    """`count` users with two changes each: far more than one PR comment can hold."""
    changes = []
    for index in range(count):
        user = TargetRef("user", f"u-{index}", email=f"user{index:04d}@acme.test")
        changes.append(change(user, "in_meeting.waiting_room", False, True, 3))
        changes.append(change(user, "recording.auto_recording", "none", "cloud", 4))
    summary = Summary(targets=count, targets_with_changes=count, changes_pending=2 * count)
    return Plan(changes=changes, summary=summary)
