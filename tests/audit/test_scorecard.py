"""The scorecard on the Acme sandbox: one row per benchmark item, counts per level, statuses and
the deciding layer, exactly as the tenant holds them; and the worse-outcome rule for items that
two rules check, on a result built by hand.

Acme (reconciler/sandbox/acme.py): the account has chat on, host video off, the waiting room on
(locked); Sales turns host video on (frank turns it off again); bob turns chat off. 12 active
users; ivan's read is made to fail, so he is unknown to every user-level rule.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.audit.model import AuditResult, AuditTarget, PackInfo, RuleOutcome
from reconciler.audit.scorecard import scorecard
from reconciler.cli import cli
from reconciler.policy import parse_pack
from reconciler.policy.manual import ManualItem
from reconciler.render.scorecard import (
    junit_manual_suite,
    scorecard_html,
    scorecard_json,
    scorecard_markdown,
    scorecard_sarif,
)
from reconciler.targets import TargetRef
from tests.plan.sandbox_repo import failing_reads, prepare

BENCH = """\
pack: bench
title: A small benchmark
benchmark: Bench v1
rules:
  - id: tb-1.1
    title: Meeting chat is off
    severity: medium
    rationale: Chat is not archived.
    levels: [account, group, user]
    expr: settings.in_meeting.chat == false
  - id: tb-1.2
    title: Hosts start without video
    severity: low
    rationale: Video is opt-in.
    levels: [account, group]
    expr: settings.schedule_meeting.host_video == false
  - id: tb-1.2-user
    title: Hosts start without video (users)
    severity: high
    rationale: Video is opt-in.
    levels: [user]
    expr: settings.schedule_meeting.host_video == false
  - id: tb-1.10
    title: Meeting chat stays on
    severity: low
    rationale: People need to talk.
    levels: [account, group, user]
    expr: settings.in_meeting.chat == true
  - id: tb-1.3
    title: Groups start hosts without video
    severity: low
    rationale: Video is opt-in.
    levels: [group]
    expr: settings.schedule_meeting.host_video == false
  - id: tb-1.4
    title: A field no level has
    severity: low
    rationale: Never applies.
    levels: [account]
    expr: settings.in_meeting.no_such_field == true
  - id: tb-1.5
    title: The waiting room is on
    severity: high
    rationale: Strangers wait.
    levels: [account, group, user]
    expr: meeting_security.waiting_room == true
manual:
  - id: tb-2.1
    title: Rooms need a passcode
    profile: 2
    check: "Zoom Rooms settings: the room passcode is on."
  - id: tb-1.9
    title: Files are scanned
    check: "Admin > Security: file scanning is on."
"""


def _row(counts: dict[str, dict[str, int]], level: str) -> tuple[int, ...]:
    """A level's (pass, fail, unknown, not_applicable, acknowledged)."""
    found = counts[level]
    return tuple(found[k] for k in ("pass", "fail", "unknown", "not_applicable", "acknowledged"))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = tmp_path_factory.mktemp("scorecard") / "repo"
    expires = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    files = {
        "reconciler.yaml": "policies: [policies/bench.yaml]\n",
        "policies/bench.yaml": BENCH,
        "acknowledged.yaml": (
            "acknowledged:\n  - target: group:Sales\n    rule: bench/tb-1.3\n"
            f"    owner: it@acme.test\n    reason: Sales demos on video\n    expires: {expires}\n"
        ),
    }
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    prepare(repo)
    ivan = {"path": "/v2/users/{user:ivan}/settings", "status": 404}
    ivan["body"] = {"code": 1001, "message": "User does not exist."}
    result = CliRunner().invoke(
        cli,
        ["audit", str(repo), "--sandbox", "--format", "json", "--quiet"],
        obj=failing_reads(repo, [ivan]),
    )
    assert result.exit_code == 1, result.output  # ivan is unknown
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_one_row_per_item_in_benchmark_order(report: dict[str, Any]) -> None:
    (card,) = report["scorecard"]
    assert (card["pack"], card["title"], card["benchmark"]) == ("bench", "Bench v1", True)
    rows = card["rows"]
    assert [(r["item"], r["status"]) for r in rows] == [
        ("1.1", "fail"),
        ("1.2", "fail"),
        ("1.3", "acknowledged"),
        ("1.4", "not_applicable"),
        ("1.5", "unknown"),
        ("1.9", "manual"),
        ("1.10", "fail"),
        ("2.1", "manual"),
    ]
    assert card["totals"] == {
        "fail": 3, "unknown": 1, "acknowledged": 1, "pass": 0, "not_applicable": 1, "manual": 2,
    }  # fmt: skip


def test_counts_per_level_and_the_deciding_layer(report: dict[str, Any]) -> None:
    rows = {row["item"]: row for row in report["scorecard"][0]["rows"]}
    chat_off = rows["1.1"]  # the account has chat on: everyone inherits it but bob
    assert chat_off["rules"] == ["bench/tb-1.1"]
    assert (_row(chat_off["counts"], "account"), chat_off["layer"]) == ((0, 1, 0, 0, 0), "account")
    assert _row(chat_off["counts"], "group") == (0, 3, 0, 0, 0)
    assert _row(chat_off["counts"], "user") == (1, 10, 1, 0, 0)
    video = rows["1.2"]  # two rules, one item: Sales and its members turn host video on
    assert video["rules"] == ["bench/tb-1.2", "bench/tb-1.2-user"]
    assert (video["title"], video["severity"], video["layer"]) == (
        "Hosts start without video", "high", "groups",
    )  # fmt: skip
    assert _row(video["counts"], "account") == (1, 0, 0, 0, 0)
    assert _row(video["counts"], "group") == (2, 1, 0, 0, 0)
    assert _row(video["counts"], "user") == (9, 2, 1, 0, 0)  # erin and grace (carol: Eng first)
    chat_on = rows["1.10"]  # the account and groups pass; only bob turned it off, unlocked
    assert (_row(chat_on["counts"], "user"), chat_on["layer"]) == ((10, 1, 1, 0, 0), "account-lock")
    acknowledged = rows["1.3"]  # Sales's failure is accepted: the row is not failing
    assert list(acknowledged["counts"]) == ["group"]
    assert (_row(acknowledged["counts"], "group"), acknowledged["layer"]) == ((2, 0, 0, 0, 1), None)
    assert _row(rows["1.4"]["counts"], "account") == (0, 0, 0, 1, 0)
    assert _row(rows["1.5"]["counts"], "user") == (11, 0, 1, 0, 0)


def test_a_failing_row_without_a_remedy_is_fixed_by_hand(report: dict[str, Any]) -> None:
    rows = {row["item"]: row for row in report["scorecard"][0]["rows"]}
    assert [rows[item]["remedy"] for item in ("1.1", "1.2", "1.10")] == ["manual"] * 3
    assert [rows[item]["remedy"] for item in ("1.3", "1.4", "1.5")] == [None] * 3  # not failing


def test_manual_items_are_rows_with_their_check(report: dict[str, Any]) -> None:
    rows = {row["item"]: row for row in report["scorecard"][0]["rows"]}
    assert rows["2.1"] == {
        "item": "2.1",
        "title": "Rooms need a passcode",
        "status": "manual",
        "rules": [],
        "counts": {},
        "layer": None,
        "profile": 2,
        "severity": None,
        "check": "Zoom Rooms settings: the room passcode is on.",
        "source": "policies/bench.yaml:48",
        "remedy": "manual",
    }
    assert [item["id"] for item in report["manual"]] == ["bench/tb-2.1", "bench/tb-1.9"]


# -- on a result built by hand --------------------------------------------------------------------

TWO_RULES = """\
pack: p
title: P
benchmark: P v1
rules:
""" + "".join(
    f"  - {{id: {rule_id}, title: {title}, severity: low, rationale: R, levels: [user],"
    ' expr: "settings.in_meeting.chat == true"}\n'
    for rule_id, title in (("p-1.1", "A"), ("p-1.1-user", "B"), ("p-1.2", "C"))
)


def _users(count: int) -> list[AuditTarget]:
    return [AuditTarget(TargetRef("user", f"u{n}", email=f"u{n}@a.test")) for n in range(count)]


def test_a_target_two_rules_of_an_item_judge_counts_once_by_its_worse_outcome() -> None:
    pack, problems = parse_pack("p.yaml", TWO_RULES.encode(), expected_name="p")
    assert problems == [] and pack is not None
    one, two, other = pack.rules
    result = AuditResult(rules=list(pack.rules), targets=_users(5))
    result.packs = [PackInfo("p", "P", "p.yaml", "", "P v1")]
    p, f, na, u, a = (RuleOutcome.PASS, RuleOutcome.FAIL, RuleOutcome.NOT_APPLICABLE,
                      RuleOutcome.UNKNOWN, RuleOutcome.ACKNOWLEDGED)  # fmt: skip
    result.outcomes = {
        "p/p-1.1": bytearray([p, p, na, u, a]),
        "p/p-1.1-user": bytearray([p, f, p, p, p]),
        "p/p-1.2": bytearray([na, na, na, na, na]),
    }
    (card,) = scorecard(result)
    first, second = card.rows
    assert (first.item, first.rules, first.status, first.layer) == (
        "1.1", ("p/p-1.1", "p/p-1.1-user"), "fail", "per-user",
    )  # fmt: skip
    assert first.counts == {
        "user": {"pass": 2, "fail": 1, "unknown": 1, "not_applicable": 0, "acknowledged": 1}
    }
    assert (second.item, second.status, second.counts["user"]["not_applicable"]) == (
        "1.2", "not_applicable", 5,
    )  # fmt: skip
    assert other.item == "1.2" and one.item == two.item == "1.1"


def test_a_pack_that_is_no_benchmark_has_a_row_per_rule() -> None:
    text = TWO_RULES.replace("benchmark: P v1\n", "")
    pack, problems = parse_pack("p.yaml", text.encode(), expected_name="p")
    assert problems == [] and pack is not None
    result = AuditResult(rules=list(pack.rules), targets=_users(1))
    result.packs = [PackInfo("p", "P", "p.yaml", "")]
    result.outcomes = {f"p/{rule.id}": bytearray([RuleOutcome.PASS]) for rule in pack.rules}
    (card,) = scorecard(result)
    assert (card.title, card.benchmark) == ("P", False)
    assert [(row.item, row.status) for row in card.rows] == [
        ("p-1.1", "pass"), ("p-1.1-user", "pass"), ("p-1.2", "pass"),
    ]  # fmt: skip


def test_no_pack_no_scorecard() -> None:
    assert scorecard(AuditResult()) == []


def test_the_shipped_cis_pack_scores_every_item_once(tmp_path: Path) -> None:
    """130 items that rules check and 41 manual ones: no item twice, none lost."""
    from reconciler.policy import load_shipped  # noqa: PLC0415

    pack = load_shipped("cis-zoom-1.0")
    result = AuditResult(rules=list(pack.rules))
    result.packs = [PackInfo(pack.name, pack.title, pack.file, "", pack.benchmark, pack.manual)]
    (card,) = scorecard(result)
    items = [row.item for row in card.rows]
    assert len(items) == len(set(items)) == 171
    assert card.totals() == {
        "fail": 0, "unknown": 0, "acknowledged": 0, "pass": 0, "not_applicable": 130, "manual": 41,
    }  # fmt: skip
    manual = {row.item: row for row in card.rows if row.status == "manual"}
    assert manual["1.1.1.5"].profile == 2
    assert "Room Meeting ID" in (manual["1.1.1.5"].check or "")


# -- the remedy's place -------------------------------------------------------------------------

_CHAT = "settings.in_meeting.chat == false"
_LENGTH = "meeting_security.meeting_password_requirement.length >= 8"
REMEDIED = "pack: r\ntitle: R\nrules:\n" + "".join(
    f"  - {{id: {rule_id}, title: T, severity: low, rationale: R,"
    f' levels: [account, group, user], expr: "{expr}"{remedy}}}\n'
    for rule_id, expr, remedy in (
        ("chat-one-group", _CHAT, ", remedy: {settings: {in_meeting: {chat: false}}}"),
        ("chat-two-users", _CHAT, ", remedy: {settings: {in_meeting: {chat: false}}}"),
        ("chat-account", _CHAT, ", remedy: {settings: {in_meeting: {chat: false}}}"),
        ("length-groups", _LENGTH, ", remedy: {meeting_security: "
         "{meeting_password_requirement: {length: 8}}}"),
        ("length-users", _LENGTH, ", remedy: {meeting_security: "
         "{meeting_password_requirement: {length: 8}}}"),
        ("no-remedy", _CHAT, ""),
    )
)  # fmt: skip


def _remedied() -> AuditResult:
    """The account, groups Eng and Sales, and users in Eng, in Sales and in no group; each rule
    fails where its id says (chat can be locked at both layers, the passcode length at none)."""
    pack, problems = parse_pack("r.yaml", REMEDIED.encode(), expected_name="r")
    assert problems == [] and pack is not None
    targets = [
        AuditTarget(TargetRef("account", "me")),
        AuditTarget(TargetRef("group", "g1", name="Eng")),
        AuditTarget(TargetRef("group", "g2", name="Sales")),
        AuditTarget(TargetRef("user", "u0", email="u0@a.test"), ("Eng",)),
        AuditTarget(TargetRef("user", "u1", email="u1@a.test"), ("Sales", "Eng")),
        AuditTarget(TargetRef("user", "u2", email="u2@a.test")),
    ]
    manual = ManualItem("r", "by-hand", "by-hand", "Rooms", "Check the rooms.", "r.yaml", 30)
    result = AuditResult(rules=list(pack.rules), targets=targets)
    result.packs = [PackInfo("r", "R", "r.yaml", "", None, (manual,))]
    p, f = RuleOutcome.PASS, RuleOutcome.FAIL
    failing = {
        "chat-one-group": (1, 3),  # Eng and its member
        "chat-two-users": (3, 4),  # users of two groups
        "chat-account": (0,),
        "length-groups": (1, 4),
        "length-users": (5,),
        "no-remedy": (5,),
    }
    result.outcomes = {
        f"r/{rule}": bytearray(f if at in failed else p for at in range(len(targets)))
        for rule, failed in failing.items()
    }
    return result


REMEDY_PLACES = {
    "chat-one-group": "group-file",
    "chat-two-users": "account-lock",
    "chat-account": "account-file",
    "length-groups": "group-files",
    "length-users": "user-files",
    "no-remedy": "manual",
    "by-hand": "manual",
}


def test_each_failing_row_says_where_its_remedy_belongs() -> None:
    (card,) = scorecard(_remedied())
    assert {row.item: row.remedy for row in card.rows} == REMEDY_PLACES


def test_the_remedys_place_is_in_every_format() -> None:
    result = _remedied()
    document = scorecard_json(result)
    rows = {row["item"]: row["remedy"] for row in document["scorecard"][0]["rows"]}
    assert rows == REMEDY_PLACES
    markdown = scorecard_markdown(result)
    assert "| decided by / check | remedy's place |" in markdown
    (row,) = [line for line in markdown.splitlines() if line.startswith("| `r/chat-two-users` |")]
    assert row.endswith("| account.yaml, locked |")
    page = scorecard_html(result)
    assert '<th scope="col">remedy&#x27;s place</th>' in page
    assert "<td>the group&#x27;s file, locked</td></tr>" in page
    (card,) = scorecard_sarif(result)["scorecard"]
    sarif = {row["item"]: row.get("remedy") for row in card["rows"]}
    assert sarif == {**REMEDY_PLACES, "by-hand": None}  # a manual row's status says it
    suite = junit_manual_suite(result, lambda text: text, lambda text: text)
    assert (
        '<property name="r length-users" value="fail; account 1 pass; groups 2 pass; users 1 '
        "fail, 2 pass; decided by per-user; remedy: defaults.yaml (users' values)\" />"
    ) in suite.xml
    assert '<property name="r by-hand" value="manual" />' in suite.xml
