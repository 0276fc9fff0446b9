"""`reconciler audit` on the Acme sandbox: `--since`, acknowledged drift, exit codes, and bad
input (one line, nothing read)."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.connect import Connector
from tests.plan.sandbox_repo import open_app, prepare, recording, send_all

CHAT_PACK = """\
pack: ours
title: Our rules
rules:
  - id: no-chat
    title: No meeting chat
    severity: high
    rationale: Chat is not archived.
    levels: [user]
    expr: settings.in_meeting.chat == false
"""
ACK = """\
acknowledged:
  - target: user:alice@acme.test
    rule: ours/no-chat
    owner: it-security@acme.test
    reason: Alice runs the support clinic
    expires: {expires}
"""


TODAY = datetime.now(UTC).date()
SOON = (TODAY + timedelta(days=30)).isoformat()  # within the year an entry may run
MAX_DAYS_HINT = (
    "(hint: acknowledge for less and renew it then, or raise acknowledgement_max_days in "
    "reconciler.yaml)"
)


def repo_of(tmp: Path, files: dict[str, str], setup: list[dict[str, Any]] | None = None) -> Path:
    repo = tmp / "repo"
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    prepare(repo, setup)
    return repo


def audit(repo: Path, *args: str, connector: Connector | None = None) -> Result:
    result = CliRunner().invoke(
        cli, ["audit", str(repo), "--sandbox", *args], obj=connector, env={"NO_COLOR": "1"}
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def patch(repo: Path, user: str, body: dict[str, Any], option: str | None = None) -> None:
    item: dict[str, Any] = {"method": "PATCH", "path": f"/v2/users/{{user:{user}}}/settings"}
    item["body"] = body
    if option:
        item["query"] = {"option": option}
    asyncio.run(send_all(open_app(repo), [item]))


def chat_repo(tmp: Path, ack: str | None = None) -> Path:
    files = {
        "reconciler.yaml": "policies: [policies/ours.yaml]\n",
        "policies/ours.yaml": CHAT_PACK,
        "users/bob@acme.test.yaml": "settings:\n  in_meeting:\n    chat: false\n",
    }
    if ack is not None:
        files["acknowledged.yaml"] = ack
    setup = [
        {
            "method": "PATCH",
            "path": "/v2/users/{user:alice}/settings",
            "body": {"in_meeting": {"chat": True}},
        },
        {
            "method": "PATCH",
            "path": "/v2/users/{user:bob}/settings",
            "body": {"in_meeting": {"chat": False}},
        },
    ]
    return repo_of(tmp, files, setup)


def test_since_lists_exactly_the_fields_changed_in_zoom(tmp_path: Path) -> None:
    repo = repo_of(
        tmp_path,
        {"users/alice@acme.test.yaml": "settings:\n  in_meeting:\n    chat: true\n"},
        [
            {
                "method": "PATCH",
                "path": "/v2/users/{user:alice}/settings",
                "body": {"in_meeting": {"chat": True}},
            }
        ],
    )
    first = audit(repo, "--format", "json", "--quiet")
    assert first.exit_code == 0, first.output
    snapshot = Path(json.loads(first.stdout)["snapshot"]["path"])
    assert snapshot.parent == repo / ".reconciler" / "snapshots"
    # 7 fields of 5 users: alice's managed chat, the rest unmanaged (chat is the only managed).
    patch(repo, "alice", {"in_meeting": {"chat": False, "polling": False}})
    patch(repo, "bob", {"in_meeting": {"polling": False}})
    patch(repo, "carol", {"in_meeting": {"annotation": False}})
    patch(repo, "dave", {"in_meeting": {"breakout_room": False}})
    # Not read: the audit reads the families the repo or a rule needs (here general only).
    patch(repo, "dave", {"meeting_security": {"waiting_room": False}}, option="meeting_security")
    patch(repo, "erin", {"in_meeting": {"file_transfer": True, "polling": False}})
    second = audit(repo, "--format", "json", "--quiet", "--since", str(snapshot))
    assert second.exit_code == 2, second.output  # alice's managed chat drifted
    since = json.loads(second.stdout)["since"]
    found = {(c["target"], c["family"], c["path"], c.get("after")) for c in since["changes"]}
    before = {
        (c["target"], c["family"], c["path"]): c.get("before")
        for c in since["changes"]
        if "before" in c
    }
    changed = {
        ("user alice@acme.test", "settings", "in_meeting.chat", False),
        ("user alice@acme.test", "settings", "in_meeting.polling", False),
        ("user bob@acme.test", "settings", "in_meeting.polling", False),
        ("user carol@acme.test", "settings", "in_meeting.annotation", False),
        ("user dave@acme.test", "settings", "in_meeting.breakout_room", False),
        ("user erin@acme.test", "settings", "in_meeting.file_transfer", True),
        ("user erin@acme.test", "settings", "in_meeting.polling", False),
    }
    # The sandbox's Acme values before the patches, for the fields whose value changed.
    assert found == changed
    assert before[("user alice@acme.test", "settings", "in_meeting.chat")] is True
    assert since["targets_changed"] == 5
    assert since["added"] == [] and since["removed"] == []


def test_an_acknowledged_finding_does_not_fail_until_it_expires(tmp_path: Path) -> None:
    repo = chat_repo(tmp_path / "a", ACK.format(expires=SOON))
    done = audit(repo, "--format", "json", "--quiet", "--users", "alice@acme.test")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    alice = [f for f in report["findings"] if f["target"].get("email") == "alice@acme.test"]
    assert [
        (f["status"], f["acknowledged"]["owner"], f["acknowledged"]["expires"]) for f in alice
    ] == [("acknowledged", "it-security@acme.test", SOON)]
    assert report["acknowledgements"][0]["source"] == {"file": "acknowledged.yaml", "line": 2}
    counts = next(r["counts"] for r in report["rules"] if r["id"] == "ours/no-chat")
    assert counts["fail"] == sum(
        1 for f in report["findings"] if f["status"] == "fail" and f["rule"] == "ours/no-chat"
    )
    assert counts["acknowledged"] == 1


def test_an_expired_acknowledgement_fails_the_audit_and_validate(tmp_path: Path) -> None:
    repo = chat_repo(tmp_path, ACK.format(expires="2020-01-31"))
    done = audit(repo, "--format", "json", "--quiet", "--users", "alice@acme.test")
    assert done.exit_code == 2, done.output
    report = json.loads(done.stdout)
    assert [(f["status"], f["acknowledged"]) for f in report["findings"]] == [("fail", None)]
    assert report["acknowledgements"][0]["expired"] is True
    checked = CliRunner().invoke(cli, ["validate", str(repo)])
    assert checked.exit_code == 1
    assert checked.stdout.startswith(
        "acknowledged.yaml:2:1: the acknowledgement of ours/no-chat for user:alice@acme.test "
        "(owner it-security@acme.test) expired on 2020-01-31"
    )


def test_a_malformed_acknowledgement_is_a_validation_error_with_its_line(tmp_path: Path) -> None:
    bad = ACK.format(expires="next week").replace("    owner: it-security@acme.test\n", "")
    repo = chat_repo(tmp_path, bad)
    checked = CliRunner().invoke(cli, ["validate", str(repo)])
    assert checked.exit_code == 1
    assert checked.stdout.splitlines() == [
        "acknowledged.yaml:2:5: acknowledged[0]: the entry has no `owner:`",
        "acknowledged.yaml:5:14: acknowledged[0].expires: `expires:` is a date, YYYY-MM-DD",
    ]
    apps: list[Any] = []
    done = audit(repo, connector=recording(apps))
    assert done.exit_code == 1
    assert apps == []  # refused before Zoom was asked anything


def test_a_typo_in_an_acknowledged_rule_is_caught_by_validate(tmp_path: Path) -> None:
    repo = chat_repo(tmp_path, ACK.format(expires=SOON).replace("ours/no-chat", "ours/no-chats"))
    checked = CliRunner().invoke(cli, ["validate", str(repo)])
    assert checked.exit_code == 1
    assert checked.stdout == (
        "acknowledged.yaml:2:1: the acknowledgement names rule ours/no-chats, which no enabled "
        "pack has (hint: did you mean ours/no-chat?)\n"
    )


def test_an_acknowledgement_past_the_maximum_expiry_is_refused_at_its_line(tmp_path: Path) -> None:
    repo = chat_repo(tmp_path, ACK.format(expires="9999-12-31"))
    before = {path: path.read_bytes() for path in repo.rglob("*") if path.is_file()}
    checked = CliRunner().invoke(cli, ["validate", str(repo)])
    assert checked.exit_code == 1
    latest = (TODAY + timedelta(days=365)).isoformat()
    assert checked.stdout == (
        "acknowledged.yaml:6:14: acknowledged[0].expires: expires more than 365 days from today "
        f"(after {latest}) {MAX_DAYS_HINT}\n"
    )
    apps: list[Any] = []
    done = audit(repo, connector=recording(apps))
    assert done.exit_code == 1
    assert apps == []  # refused before Zoom was asked anything
    assert {path: path.read_bytes() for path in repo.rglob("*") if path.is_file()} == before


def test_the_maximum_expiry_is_set_in_reconciler_yaml(tmp_path: Path) -> None:
    in_400_days = (TODAY + timedelta(days=400)).isoformat()
    repo = chat_repo(tmp_path / "long", ACK.format(expires=in_400_days))
    options = repo / "reconciler.yaml"
    options.write_text(options.read_text() + "acknowledgement_max_days: 730\n")
    assert CliRunner().invoke(cli, ["validate", str(repo)]).exit_code == 0
    options.write_text(options.read_text().replace("730", "7"))
    checked = CliRunner().invoke(cli, ["validate", str(repo)])
    assert checked.exit_code == 1
    assert checked.stdout == (
        "acknowledged.yaml:6:14: acknowledged[0].expires: expires more than 7 days from today "
        f"(after {(TODAY + timedelta(days=7)).isoformat()}) {MAX_DAYS_HINT}\n"
    )


def test_target_star_is_refused_without_scope_all(tmp_path: Path) -> None:
    everyone = ACK.format(expires=SOON).replace("user:alice@acme.test", '"*"')
    repo = chat_repo(tmp_path / "star", everyone)
    checked = CliRunner().invoke(cli, ["validate", str(repo)])
    assert checked.exit_code == 1
    assert checked.stdout == (
        'acknowledged.yaml:2:13: acknowledged[0].target: target "*" acknowledges the deviation '
        "for every target (hint: add `scope: all` to the entry if every target is meant, or name "
        "the targets)\n"
    )
    apps: list[Any] = []
    assert audit(repo, connector=recording(apps)).exit_code == 1
    assert apps == []


def test_scope_is_all_and_goes_only_with_target_star(tmp_path: Path) -> None:
    other = ACK.format(expires=SOON).replace("    rule:", "    scope: everyone\n    rule:")
    checked = CliRunner().invoke(cli, ["validate", str(chat_repo(tmp_path / "a", other))])
    assert (checked.exit_code, checked.stdout) == (
        1,
        "acknowledged.yaml:3:12: acknowledged[0].scope: `scope:` can only be all "
        '(hint: it goes with target: "*")\n',
    )
    alone = ACK.format(expires=SOON).replace("    rule:", "    scope: all\n    rule:")
    checked = CliRunner().invoke(cli, ["validate", str(chat_repo(tmp_path / "b", alone))])
    assert (checked.exit_code, checked.stdout) == (
        1,
        'acknowledged.yaml:3:12: acknowledged[0].scope: `scope: all` goes only with target: "*" '
        "(hint: remove it)\n",
    )


def test_target_star_with_scope_all_acknowledges_every_target(tmp_path: Path) -> None:
    everyone = ACK.format(expires=SOON).replace("user:alice@acme.test", '"*"\n    scope: all')
    repo = chat_repo(tmp_path, everyone)
    done = audit(repo, "--format", "json", "--quiet", "--users", "alice@acme.test")
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert [(f["status"], f["acknowledged"]["owner"]) for f in report["findings"]] == [
        ("acknowledged", "it-security@acme.test")
    ]


def test_exit_codes_clean_findings_and_unknown(tmp_path: Path) -> None:
    chat_on = {"in_meeting": {"chat": True}}
    clean = repo_of(
        tmp_path / "clean",
        {"users/bob@acme.test.yaml": "settings:\n  in_meeting:\n    chat: true\n"},
        [{"method": "PATCH", "path": "/v2/users/{user:bob}/settings", "body": chat_on}],
    )
    assert audit(clean, "--quiet").exit_code == 0
    drifted = chat_repo(tmp_path / "drift")
    patch(drifted, "bob", {"in_meeting": {"chat": True}})
    done = audit(drifted, "--quiet", "--format", "json", "--users", "bob@acme.test")
    assert done.exit_code == 2
    assert [(f["kind"], f["status"]) for f in json.loads(done.stdout)["findings"]] == [
        ("drift", "drift"),
        ("policy", "fail"),
    ]


def test_a_bad_since_file_is_one_line_and_nothing_is_read(tmp_path: Path) -> None:
    repo = chat_repo(tmp_path)
    bogus = tmp_path / "old.jsonl.gz"
    bogus.write_bytes(gzip.compress(b'{"not": "a snapshot"}\n'))
    apps: list[Any] = []
    done = audit(repo, "--since", str(bogus), connector=recording(apps))
    assert done.exit_code == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert str(bogus) in done.stderr
    assert apps == []


def test_a_since_snapshot_without_its_manifest_exits_1_like_an_altered_one(tmp_path: Path) -> None:
    repo = chat_repo(tmp_path)
    first = audit(repo, "--format", "json", "--quiet")
    snapshot = Path(json.loads(first.stdout)["snapshot"]["path"])
    manifest = snapshot.with_name(snapshot.name.removesuffix(".jsonl.gz") + ".manifest.json")
    manifest.unlink()
    folder = snapshot.parent
    before = sorted((p.name, p.read_bytes()) for p in folder.iterdir())
    apps: list[Any] = []
    done = audit(repo, "--since", str(snapshot), connector=recording(apps))
    assert done.exit_code == 1  # as a snapshot its manifest says was altered
    assert done.stderr == (
        f"error: {snapshot}: has no manifest ({manifest.name} is not beside it): a snapshot is "
        "compared only with the manifest written with it (hint: keep the manifest beside the "
        "snapshot as `reconciler audit` wrote it, or take a new snapshot)\n"
    )
    assert apps == []  # refused before Zoom was asked anything
    assert sorted((p.name, p.read_bytes()) for p in folder.iterdir()) == before


def _timeless(report: dict[str, Any]) -> dict[str, Any]:
    """A report without what differs from one run to the next (times, the snapshot's name)."""
    return {k: v for k, v in report.items() if k not in ("started_at", "finished_at", "snapshot")}


def test_an_out_file_ending_in_gz_is_the_same_report_gzipped(tmp_path: Path) -> None:
    repo = chat_repo(tmp_path)
    written: dict[str, bytes] = {}
    for name, fmt in [("audit.json", "json"), ("audit.json.gz", "json"),
                      ("audit.junit.xml", "junit"), ("audit.junit.xml.gz", "junit")]:  # fmt: skip
        out = tmp_path / name
        scope = ("--users", "alice@acme.test")
        assert audit(repo, "--quiet", *scope, "--format", fmt, "--out", str(out)).exit_code == 2
        written[name] = out.read_bytes()
    plain = json.loads(written["audit.json"])
    packed = json.loads(gzip.decompress(written["audit.json.gz"]))
    assert written["audit.json.gz"][:2] == b"\x1f\x8b"
    assert _timeless(packed) == _timeless(plain)
    assert [(f["rule"], f["target"]["email"]) for f in packed["findings"]] == [
        ("ours/no-chat", "alice@acme.test")
    ]
    junit = gzip.decompress(written["audit.junit.xml.gz"])
    assert junit == written["audit.junit.xml"]  # no time in JUnit: the very same bytes
