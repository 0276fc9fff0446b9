"""Reads the locks above make unneeded: on the 500-user answer-key tenant with the account locking
the waiting room and one group locking file transfer, an audit that infers those families from
the locks gives exactly the per-target, per-rule verdicts and the drift of a `--read-all` audit,
and sends exactly the reads the locks do not cover (counted in the sandbox's journal)."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.audit.model import AuditResult, FindingKind
from reconciler.audit.rollup import Depth, roll_up
from reconciler.audit.run import run_audit
from reconciler.cli import cli
from reconciler.connect import sandbox_state_path
from reconciler.desired import load_repo
from reconciler.sandbox import SandboxApp
from reconciler.sandbox.state import load_state, save_state
from tests.audit.tenant import seeded_repo
from tests.plan.sandbox_repo import api_calls, recording

WAITING_ROOM = ("meeting_security", "waiting_room")
FILE_TRANSFER = ("in_meeting", "file_transfer")


def _lock(repo: Path) -> tuple[str, set[str]]:
    """Lock the waiting room (off) at the account and file transfer (on) at the first group (by
    name), in the repo's sandbox; the group's name and the ids of the users it is first for."""
    path = sandbox_state_path(repo)
    tenant, config = load_state(path)
    tenant.account.locks = {"meeting_security": {WAITING_ROOM: True}}
    # Off, so that the rule fails for every user: a verdict from the lock is there to be seen.
    tenant.account.settings.values["meeting_security"][WAITING_ROOM] = False
    group = sorted(tenant.groups.values(), key=lambda g: g.name)[0]
    group.locks = {"general": {FILE_TRANSFER: True}}
    group.settings.values.setdefault("general", {})[FILE_TRANSFER] = True
    save_state(path, tenant, config)
    return group.name, {u.id for u in tenant.users if u.group_ids and u.group_ids[0] == group.id}


async def _audit(repo: Path, *, read_all: bool) -> tuple[AuditResult, list[Any]]:
    apps: list[SandboxApp] = []
    state = load_repo(repo)
    async with recording(apps).open(repo, tier=None, rate=None, paced=False) as session:
        done = await run_audit(state, session, read_all=read_all)
    return done.result, api_calls(apps[0].sandbox.journal.entries())


def _verdicts(result: AuditResult) -> dict[tuple[str, str], int]:
    """(rule, target label) -> the rule's outcome byte at that target."""
    return {
        (code, target.label): row[index]
        for code, row in result.outcomes.items()
        for index, target in enumerate(result.targets)
    }


def _drift(result: AuditResult) -> set[tuple[str, str, str, str]]:
    return {
        (f.target.label, f.field_label, json.dumps(f.actual), json.dumps(f.expected))
        for f in result.findings
        if f.kind is FindingKind.DRIFT
    }


def _user_reads(entries: list[Any]) -> Counter[tuple[str, str]]:
    """(user id, family) of every settings read of a user."""
    found: Counter[tuple[str, str]] = Counter()
    for entry in entries:
        parts = entry.path.split("/")
        if entry.method == "GET" and parts[2] == "users" and parts[-1] == "settings":
            found[(parts[3], entry.query.get("option", "general"))] += 1
    return found


@pytest.fixture(scope="module")
def audits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    repo = tmp_path_factory.mktemp("inference") / "repo"
    repo.mkdir()
    tenant, _expected = asyncio.run(seeded_repo(repo, unreadable=0))
    group, primary = _lock(repo)
    inferred, inferred_log = asyncio.run(_audit(repo, read_all=False))
    everything, everything_log = asyncio.run(_audit(repo, read_all=True))
    filed = {p.name.removesuffix(".yaml") for p in (repo / "users").iterdir()}
    users = {u.id: u for u in tenant.users if u.status == "active"}
    return {
        "repo": repo,
        "group": group,
        "primary": primary,
        "filed": {uid for uid, u in users.items() if u.email in filed},
        "single": {uid for uid, u in users.items() if len(u.group_ids) == 1},
        "users": users,
        "inferred": (inferred, inferred_log),
        "read_all": (everything, everything_log),
    }


def test_inferred_verdicts_and_drift_are_exactly_those_of_read_all(audits: Any) -> None:
    inferred, _log = audits["inferred"]
    everything, _log = audits["read_all"]
    assert [t.label for t in inferred.targets] == [t.label for t in everything.targets]
    assert _verdicts(inferred) == _verdicts(everything)
    assert _drift(inferred) == _drift(everything)
    assert len(_drift(everything)) >= 10  # the repo's drift is there to be found
    fails = Counter(code for (code, _label), byte in _verdicts(everything).items() if byte == 2)
    assert fails["audit-test/waiting-room"] and fails["audit-test/no-file-transfer"]
    assert sorted(f.fingerprint for f in inferred.findings) == sorted(
        f.fingerprint for f in everything.findings
    )


@pytest.mark.parametrize("depth", list(Depth))
def test_the_roll_ups_of_the_inferred_audit_hold_the_verdicts_of_read_all(
    audits: Any, depth: Depth
) -> None:
    """What SARIF and HTML show (roll-ups of an audit that inferred from locks), expanded to its
    findings: exactly the findings, per target and with their status, of a --read-all audit."""
    inferred, _log = audits["inferred"]
    everything, _log = audits["read_all"]
    rollups = roll_up(inferred, depth, sample_size=None)
    members = Counter(
        (f.rule_code or f.kind.value, f.field_label, f.target.label, f.status.value)
        for rollup in rollups
        for f in rollup.sample
    )
    expected = Counter(
        (f.rule_code or f.kind.value, f.field_label, f.target.label, f.status.value)
        for f in everything.findings
    )
    assert members == expected
    assert sum(rollup.count for rollup in rollups) == len(everything.findings)
    if depth is Depth.LAYER:  # the lock holders' failures are rolled up with their users
        assert any(rollup.scope == "layer" and rollup.inherited for rollup in rollups)


def test_only_the_reads_the_locks_cover_are_skipped(audits: Any) -> None:
    inferred, inferred_log = audits["inferred"]
    everything, everything_log = audits["read_all"]
    users, primary, filed, single = (
        audits["users"], audits["primary"], audits["filed"], audits["single"]
    )  # fmt: skip
    read_all = _user_reads(everything_log)
    assert set(read_all.values()) == {1}
    assert set(read_all) == {(uid, f) for uid in users for f in ("general", "meeting_security")}
    # The account's lock covers the one field needed of meeting_security: no user reads it.
    # The group's lock covers file transfer, but not the chat a user file manages, and not a
    # member of two groups: those read the general family.
    general = {uid for uid in users if uid not in primary & single - filed}
    assert set(_user_reads(inferred_log)) == {(uid, "general") for uid in general}
    assert primary & single - filed and primary & filed and primary - single  # all three kinds
    skipped = len(users) + len(users) - len(general)
    assert inferred.reads_inferred == skipped and everything.reads_inferred == 0
    assert len(everything_log) - len(inferred_log) == skipped
    assert everything.requests_sent - inferred.requests_sent == skipped
    assert inferred.inferred_targets == len(users)
    assert everything.inferred_targets == 0


def test_each_outcome_names_the_lock_it_was_inferred_from(audits: Any) -> None:
    inferred, _log = audits["inferred"]
    group, primary, filed, single = (
        audits["group"], audits["primary"], audits["filed"], audits["single"]
    )  # fmt: skip
    by_group = f"group {group}"
    for target in inferred.targets:
        if target.ref.kind != "user":
            assert target.inferred == ()
        elif target.ref.id in primary & single - filed:
            assert target.inferred == (
                ("settings", by_group), ("meeting_security", "the account")
            )  # fmt: skip
        else:
            assert target.inferred == (("meeting_security", "the account"),)
    sources = Counter(
        (f.rule_code, f.inferred_from) for f in inferred.findings if f.kind is FindingKind.POLICY
    )
    assert {key for key in sources if key[0] == "audit-test/waiting-room"} == {
        ("audit-test/waiting-room", "the account"),
        ("audit-test/waiting-room", None),  # the account and the groups are read
    }
    assert ("audit-test/no-file-transfer", by_group) in sources
    assert ("audit-test/no-file-transfer", None) in sources
    for finding in inferred.findings:
        if finding.kind is FindingKind.DRIFT:  # chat: never inferred (no lock covers it)
            assert finding.inferred_from is None


def test_every_format_shows_the_inferred_outcomes(audits: Any, tmp_path: Path) -> None:
    repo = audits["repo"]
    inferred, _log = audits["inferred"]
    evidence = tmp_path / "evidence"
    done = CliRunner().invoke(cli, ["audit", str(repo), "--sandbox", "--evidence", str(evidence)])
    assert done.exit_code == 2, done.output
    report = json.loads(gzip.decompress((evidence / "audit.json.gz").read_bytes()))
    summary = report["summary"]["inferred"]
    assert summary == {
        "read_all": False,
        "targets": inferred.inferred_targets,
        "reads_skipped": inferred.reads_inferred,
    }
    marked = Counter(f["inferred_from"] for f in report["findings"])
    assert marked == Counter(f.inferred_from for f in inferred.findings)
    count_line = (
        f"Inferred from locks above, not read: {inferred.reads_inferred} family reads of "
        f"{inferred.inferred_targets} users"
    )
    assert count_line in (evidence / "audit.md").read_text()
    assert "(inferred from the account)" in (evidence / "audit.md").read_text()
    html = (evidence / "audit.html").read_text()
    # A group's inferred users are rows of their own; the account's are rolled up into its row,
    # which says how many of them were inferred.
    assert count_line in html and "inferred from group Engineering" in html
    rolled = Counter(f.inferred_from for f in inferred.findings if f.inferred_from == "the account")
    assert rolled and re.search(r"[\d,]+ of them inferred from the account, not read\.", html)
    junit = gzip.decompress((evidence / "audit.junit.xml.gz").read_bytes()).decode()
    assert f'<property name="reads_inferred" value="{inferred.reads_inferred}"' in junit
    assert "inferred from: the account" in junit
    sarif = json.loads(gzip.decompress((evidence / "audit.sarif.gz").read_bytes()))
    run = sarif["runs"][0]
    assert run["properties"]["reads_inferred"] == inferred.reads_inferred
    assert any(r["properties"].get("inferred_from") == "group Engineering" for r in run["results"])
    results = [r["properties"] for r in run["results"]]
    in_rollups = sum(found.get("inferred", {}).get("the account", 0) for found in results)
    singles = sum(found.get("inferred_from") == "the account" for found in results)
    assert in_rollups + singles == rolled["the account"]


def test_read_all_on_the_command_line_reads_every_family(audits: Any) -> None:
    repo = audits["repo"]
    everything, _log = audits["read_all"]
    done = CliRunner().invoke(
        cli, ["audit", str(repo), "--sandbox", "--format", "json", "--read-all"]
    )
    report = json.loads(done.stdout)
    assert report["summary"]["inferred"] == {"read_all": True, "targets": 0, "reads_skipped": 0}
    assert report["summary"]["requests_sent"] == everything.requests_sent
    assert {f["inferred_from"] for f in report["findings"]} == {None}
