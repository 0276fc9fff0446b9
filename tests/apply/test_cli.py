"""`reconciler apply` end to end: the CLI against the sandbox on 127.0.0.1 and its journal."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler import __version__
from reconciler.sandbox import SandboxApp, acme_tenant, generate_tenant
from reconciler.sandbox.patching import Target, patch_locks, patch_settings
from tests.apply.conftest import Served, audit_lines, reconciler, serving
from tests.apply.repos import BUSINESS, flip_repo, write_repo

ALICE = "/users/haZKDg43ZzK-kgOrUpRCTw/settings"
BOB = "/users/dK7YbMVA1xWN8q8iuUjo7w/settings"
ERIN = "/users/U0WhuOVTz3u-ldOmXjvwtQ/settings"
DOMAINS_OPTION = "ia0oSsJeZX2CBtNwk6TQnA"  # "Sign in to Zoom with specified domains"

ALICE_FILE = """\
settings:
  in_meeting:
    chat: false
    polling: true
    annotation: false
meeting_security:
  webinar_password: true
  meeting_password_requirement:
    length: 10
"""
BOB_FILE = """\
settings:
  in_meeting:
    chat: false
  schedule_meeting:
    participants_video: false
"""
ERIN_FILE = """\
meeting_authentication:
  meeting_authentication: true
  authentication_options:
    Sign in to Zoom with specified domains:
      visible: false
"""
SMALL = {
    "reconciler.yaml": BUSINESS,
    "users/alice@acme.test.yaml": ALICE_FILE,
    "users/bob@acme.test.yaml": BOB_FILE,
    "users/erin@acme.test.yaml": ERIN_FILE,
}
# The four requests of SMALL: (path, option, body). polling and bob's chat already match.
ALICE_GENERAL = {"in_meeting": {"chat": False, "annotation": False}}
ALICE_SECURITY = {
    "meeting_security": {"webinar_password": True, "meeting_password_requirement": {"length": 10}}
}
BOB_GENERAL = {"schedule_meeting": {"participants_video": False}}
ERIN_AUTH = {
    "meeting_authentication": True,
    "authentication_option": {"action": "hide", "id": DOMAINS_OPTION},
}


ORDER = [ALICE, BOB, ERIN]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return write_repo(tmp_path / "repo", SMALL)


def patches(served: Served) -> list[tuple[str, str, object]]:
    """Every PATCH sent as (path, option, body), targets in SENT's order (they run in parallel)."""
    served.settle()
    found = [
        (e.path.removeprefix("/v2"), e.query.get("option", ""), e.body) for e in served.patches()
    ]
    return sorted(found, key=lambda sent: (ORDER.index(sent[0]), sent[1]))


DRY_RUN = f"""\
Dry run: 4 request(s) would be sent; nothing was sent.
  user alice@acme.test: PATCH {ALICE} {{"in_meeting":{{"annotation":false,"chat":false}}}}
  user alice@acme.test: PATCH {ALICE}?option=meeting_security \
{{"meeting_security":{{"meeting_password_requirement":{{"length":10}},"webinar_password":true}}}}
  user bob@acme.test: PATCH {BOB} {{"schedule_meeting":{{"participants_video":false}}}}
  user erin@acme.test: PATCH {ERIN}?option=meeting_authentication \
{{"meeting_authentication":true,"authentication_option":{{"action":"hide","id":"{DOMAINS_OPTION}"}}}}
"""
SENT = [
    (ALICE, "", ALICE_GENERAL),
    (ALICE, "meeting_security", ALICE_SECURITY),
    (BOB, "", BOB_GENERAL),
    (ERIN, "meeting_authentication", ERIN_AUTH),
]


NOTES = {
    "applied": ", read back and verified",
    "in sync": ", already at the desired value",
    "stale": ", changed in Zoom since the plan: not sent",
    "blocked": ", never sent",
    "not applied": ", sent but Zoom kept the old value",
    "failed": "",
    "skipped": ", not sent",
}


def summary(unchanged: int = 0, **counts: tuple[int, int]) -> str:
    """The summary block of a run: (changes, targets) per outcome, 0 where not given."""
    lines = ["Apply summary\n"]
    for label, note in NOTES.items():
        changes, targets = counts.get(label.replace(" ", "_"), (0, 0))
        lines.append(
            f"  {label + ':':<12} {changes} change(s) on {targets} target(s)"
            f"{note if changes else ''}\n"
        )
    lines.append(f"  {'unchanged:':<12} {unchanged} target(s) had nothing to change\n")
    return "".join(lines)


CONVERGED = (
    "Converged: every change sent was read back from Zoom and matches the repo; "
    "nothing is pending.\n"
)


def family_calls(served: Served, path: str, option: str) -> list[str]:
    served.settle()
    return [method for method, *family in served.calls() if family == [path, option]]


def plan_is_empty(repo: Path) -> bool:
    done = reconciler("plan", repo, "--detailed-exitcode")
    return done.exit_code == 0 and "Plan: 0 changes to 0 targets" in done.stdout


def save_plan(repo: Path, served: Served) -> Path:
    saved = repo.parent / "plan.json"
    assert reconciler("plan", repo, "--out", saved).exit_code == 0
    served.forget()
    return saved


# -- dry run, one-run apply, saved plans ----------------------------------------------------------


def test_dry_run_prints_the_exact_requests_and_sends_nothing(served: Served, repo: Path) -> None:
    done = reconciler("apply", repo, "--dry-run")
    assert done.exit_code == 0
    assert done.stdout.endswith(DRY_RUN)
    assert served.patches() == []
    assert {method for method, _, _ in served.calls()} == {"GET"}
    assert not (repo / ".reconciler" / "audit.log").exists()


def test_apply_sends_only_the_changed_fields_and_verifies_each(served: Served, repo: Path) -> None:
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 0, done.output
    assert patches(served) == SENT
    for path, option, _ in SENT:  # the plan's read, the PATCH, the verifying read
        assert family_calls(served, path, option) == ["GET", "PATCH", "GET"]
    assert summary(applied=(7, 3)) in done.stdout
    assert done.stdout.endswith(CONVERGED)
    assert plan_is_empty(repo)


def test_saved_plan_is_read_again_before_each_patch(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 0, done.output
    assert patches(served) == SENT
    for path, option, _ in SENT:  # the compare-and-set read, the PATCH, the verifying read
        assert family_calls(served, path, option) == ["GET", "PATCH", "GET"]
    assert plan_is_empty(repo)


def test_nothing_to_change_sends_nothing_and_exits_0(served: Served, repo: Path) -> None:
    assert reconciler("apply", repo, "--yes").exit_code == 0
    served.forget()
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 0
    assert "Plan: 0 changes to 0 targets" in done.stdout
    assert served.patches() == []


# -- compare-and-set ------------------------------------------------------------------------------


def test_stale_field_is_not_sent_and_the_run_exits_3(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    served.change(
        ALICE,
        {"meeting_security": {"meeting_password_requirement": {"length": 8}}},
        "meeting_security",
    )
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 3, done.output
    only_webinar = {"meeting_security": {"webinar_password": True}}
    assert patches(served) == [SENT[0], (ALICE, "meeting_security", only_webinar), *SENT[2:]]
    assert summary(applied=(6, 3), stale=(1, 1)) in done.stdout
    assert "  user alice@acme.test: 3 applied, 1 stale\n" in done.stdout
    assert (
        "  STALE user alice@acme.test [meeting_security] meeting_password_requirement.length: "
        "changed in Zoom since the plan; not sent\n"
    ) in done.stdout


def test_field_already_at_its_desired_value_is_not_sent_again(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    served.change(BOB, BOB_GENERAL)
    served.change(
        ERIN,
        {"authentication_option": {"action": "hide", "id": DOMAINS_OPTION}},
        "meeting_authentication",
    )
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 0, done.output
    assert patches(served) == [
        *SENT[:2],
        (ERIN, "meeting_authentication", {"meeting_authentication": True}),
    ]
    assert summary(applied=(5, 2), in_sync=(2, 2)) in done.stdout
    assert plan_is_empty(repo)


def test_option_recreated_since_the_plan_is_stale(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)  # erin's hide action names the option's id
    auth = "meeting_authentication"
    served.change(
        "/accounts/me/settings",
        {"authentication_option": {"action": "delete", "id": DOMAINS_OPTION}},
        auth,
    )
    again = {
        "action": "add",
        "name": "Sign in to Zoom with specified domains",
        "type": "enforce_login_with_domains",
        "domains": "example.test",
    }
    served.change("/accounts/me/settings", {"authentication_option": again}, auth)
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 3, done.output
    assert patches(served) == [*SENT[:3], (ERIN, auth, {"meeting_authentication": True})]
    assert (
        "  STALE user erin@acme.test [meeting_authentication] authentication_options."
        "Sign in to Zoom with specified domains.visible: changed in Zoom since the plan; not sent\n"
    ) in done.stdout


def test_edited_plan_is_refused_before_anything_is_sent(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    data = json.loads(saved.read_text())
    data["requests"][0]["body"]["in_meeting"]["chat"] = True
    saved.write_text(json.dumps(data))
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 3
    assert done.stderr == (
        f"refused: {saved}: the plan's checksum does not match its content: it was edited; "
        "plan again\n"
    )
    assert served.entries() == []


# -- what Zoom does not keep, and failures ------------------------------------------------------


class AdminLocksFirst:
    """Another admin sets a setting and locks it just before the first PATCH of `path`
    reaches Zoom: after the plan was read, before the write."""

    def __init__(self, app: SandboxApp, path: str, group: str | None, body: dict[str, Any]):
        self.app, self.path, self.group, self.body = app, f"/v2{path}", group, body
        self.done = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        wanted = scope["type"] == "http" and scope["method"] == "PATCH"
        if wanted and scope["path"] == self.path and not self.done:
            self.done = True
            sandbox = self.app.sandbox
            holder = next(
                (g for g in sandbox.tenant.groups.values() if g.name == self.group), None
            )
            target = Target("group", holder) if holder else Target("account")
            patch_settings(sandbox.resolver, target, "general", self.body, "ignore")
            patch_locks(sandbox.resolver, holder, "general", self.body)
            sandbox.changed()
        await self.app(scope, receive, send)


ANNOTATION_ON = {"in_meeting": {"annotation": True}}


def test_lock_added_during_the_run_is_reported_not_applied(
    monkeypatch: pytest.MonkeyPatch, repo: Path
) -> None:
    def wrap(app: SandboxApp) -> AdminLocksFirst:
        return AdminLocksFirst(app, ALICE, None, ANNOTATION_ON)

    with serving(monkeypatch, acme_tenant(), wrap=wrap) as served:
        assert served.app.sandbox.config.locked_patch == "ignore"  # Zoom's silent variant
        done = reconciler("apply", repo, "--yes")
        assert patches(served) == SENT  # annotation was still `before` at plan time: sent
    assert done.exit_code == 1, done.output
    assert summary(applied=(6, 3), not_applied=(1, 1)) in done.stdout
    assert (
        "  NOT APPLIED user alice@acme.test [general] in_meeting.annotation: Zoom answered 204 "
        "but kept the old value: the account locks it in Zoom; lift that lock, or leave the "
        "setting to that level\n"
    ) in done.stdout
    assert done.stdout.endswith(
        "Not converged: a fresh plan would still show the changes above that did not apply.\n"
    )


def test_a_group_lock_added_during_the_run_is_named(
    monkeypatch: pytest.MonkeyPatch, repo: Path
) -> None:
    def wrap(app: SandboxApp) -> AdminLocksFirst:
        return AdminLocksFirst(app, ALICE, "Engineering", ANNOTATION_ON)

    with serving(monkeypatch, acme_tenant(), wrap=wrap):
        done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 1, done.output
    assert (
        "  NOT APPLIED user alice@acme.test [general] in_meeting.annotation: Zoom answered 204 "
        "but kept the old value: group Engineering locks it in Zoom; lift that lock, or leave "
        "the setting to that level\n"
    ) in done.stdout


def test_a_saved_plan_that_a_lock_now_blocks_is_refused(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    served.change("/accounts/me/settings", ANNOTATION_ON)
    served.change("/accounts/me/lock_settings", ANNOTATION_ON)
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 3, done.output
    assert done.stderr == (
        f"refused: {saved}: the plan sends user alice@acme.test [general] in_meeting.annotation, "
        "which is locked by the account in Zoom (no file in this repo manages that lock): "
        "plan again\n"
    )
    assert served.patches() == []


BASIC_BOB = {
    "reconciler.yaml": BUSINESS,
    "users/bob@acme.test.yaml": "settings:\n  feature:\n    webinar: true\n"
    "meeting_security:\n  webinar_password: true\n",
}
LICENCE_ERROR = (
    f"PATCH {BOB}, HTTP 400, Zoom code 1122: "
    "Webinar feature can only be enabled for Licensed or On-prem users."
)


@pytest.fixture
def basic_bob(served: Served) -> None:
    """Bob has a Basic licence: Zoom refuses to turn on his webinars."""
    bob = served.tenant.user("bob@acme.test")
    assert bob is not None
    bob.type = 1
    served.app.sandbox.changed()


@pytest.mark.usefixtures("basic_bob")
def test_failed_request_does_not_stop_the_others(served: Served, tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", {**SMALL, **BASIC_BOB})
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 1, done.output
    security = (BOB, "meeting_security", {"meeting_security": {"webinar_password": True}})
    assert patches(served) == [
        *SENT[:2],
        (BOB, "", {"feature": {"webinar": True}}),
        security,
        SENT[3],
    ]
    assert summary(applied=(7, 3), failed=(1, 1)) in done.stdout
    assert f"  FAILED user bob@acme.test [general] feature.webinar: {LICENCE_ERROR}\n" in (
        done.stdout
    )


@pytest.mark.usefixtures("basic_bob")
def test_fail_fast_sends_nothing_after_a_failure(served: Served, tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", BASIC_BOB)
    done = reconciler("apply", repo, "--yes", "--fail-fast")
    assert done.exit_code == 1, done.output
    assert patches(served) == [(BOB, "", {"feature": {"webinar": True}})]
    assert summary(failed=(1, 1), skipped=(1, 1)) in done.stdout
    assert (
        "  SKIPPED user bob@acme.test [meeting_security] webinar_password: stopped by "
        "--fail-fast after user bob@acme.test [general] failed\n"
    ) in done.stdout


# -- refusals -------------------------------------------------------------------------------------


def test_without_yes_and_without_a_terminal_nothing_is_sent(served: Served, repo: Path) -> None:
    done = reconciler("apply", repo)
    assert done.exit_code == 3
    assert done.stderr == "refused: not a terminal, so nobody can confirm; run with --yes\n"
    assert served.patches() == []


def test_blocked_change_is_never_sent(served: Served, tmp_path: Path) -> None:
    mallory = "settings:\n  schedule_meeting:\n    join_before_host: true\n"
    files = {**SMALL, "users/mallory@acme.test.yaml": mallory}
    repo = write_repo(tmp_path / "repo", files)
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 0, done.output  # BLOCKED is the repo's to fix: the PR plan says so
    assert patches(served) == SENT
    assert summary(applied=(7, 3), blocked=(1, 1)) in done.stdout
    assert (
        "  BLOCKED user mallory@acme.test [general] schedule_meeting.join_before_host: "
        "locked by the account in Zoom (no file in this repo manages that lock)\n"
    ) in done.stdout
    served.forget()
    again = reconciler("apply", repo, "--yes", "--fail-on-blocked")
    assert again.exit_code == 3, again.output
    assert served.patches() == []


LIMITED = "rate_tier: business\nsafety:\n  max_changed_targets: 2\n"


def test_more_changed_targets_than_allowed_needs_force(served: Served, tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", {**SMALL, "reconciler.yaml": LIMITED})
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 3
    assert done.stderr == (
        "refused: refusing an unsafe plan: 3 targets change, more than max_changed_targets (2). "
        "Check the plan, then apply with --force, or raise the `safety:` limits in "
        "reconciler.yaml\n"
    )
    assert served.patches() == []
    forced = reconciler("apply", repo, "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert patches(served) == SENT


def test_larger_share_of_changed_targets_than_allowed_needs_force(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tenant = generate_tenant(users=40, groups=2, seed=1)
    options = "rate_tier: business\nsafety:\n  max_changed_percent: 30\n"
    repo = tmp_path / "repo"
    flip_repo(repo, tenant, 10, options, in_sync=14)
    with serving(monkeypatch, tenant) as served:
        done = reconciler("apply", repo, "--yes")
        assert done.exit_code == 3
        assert done.stderr == (
            "refused: refusing an unsafe plan: 42 % of 24 managed targets change, more than "
            "max_changed_percent (30 %). Check the plan, then apply with --force, or raise the "
            "`safety:` limits in reconciler.yaml\n"
        )
        assert served.patches() == []
        forced = reconciler("apply", repo, "--yes", "--force")
        assert forced.exit_code == 0, forced.output
        assert summary(unchanged=14, applied=(17, 10)) in forced.stdout


# -- the audit log --------------------------------------------------------------------------------


def commit_all(repo: Path) -> str:
    def git(*args: str) -> str:
        command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@a.test", *args]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    (repo / ".gitignore").write_text(".reconciler/\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "settings")
    return git("rev-parse", "HEAD")


def test_audit_log_says_what_was_sent_before_after_and_result(served: Served, repo: Path) -> None:
    commit = commit_all(repo)
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 0, done.output
    lines = audit_lines(repo)
    assert len(lines) == 8  # a line before each of the 4 PATCHes, and one with its result
    assert {line.pop("time")[:4] for line in lines} == {str(datetime.now(UTC).year)}
    [run_id] = {line.pop("run_id") for line in lines}  # one run, one id on every line
    assert re.fullmatch(r"[0-9a-f]{16}", run_id)
    alice = [line for line in lines if line["target"]["email"] == "alice@acme.test"]
    general = [line for line in alice if line["family"] == "general"]
    fields = [
        {"path": ["in_meeting", "annotation"], "before": True, "after": False},
        {"path": ["in_meeting", "chat"], "before": True, "after": False},
    ]
    expected = {
        "repo_commit": commit,
        "tool_version": __version__,
        "target": {
            "kind": "user",
            "id": served.user_id("alice@acme.test"),
            "email": "alice@acme.test",
        },
        "family": "general",
        "locks": False,
        "method": "PATCH",
        "path": ALICE,
        "query": {},
        "body": ALICE_GENERAL,
        "error": None,
        "cause": None,
    }
    assert general == [
        {**expected, "fields": [{**f, "status": "sending"} for f in fields], "result": "sending"},
        {**expected, "fields": [{**f, "status": "applied"} for f in fields], "result": "applied"},
    ]


def test_audit_log_holds_no_secret(served: Served, repo: Path) -> None:
    assert reconciler("apply", repo, "--yes").exit_code == 0
    text = (repo / ".reconciler" / "audit.log").read_text()
    basic = base64.b64encode(b"sandbox-client:sandbox-secret").decode()
    for secret in ("sandbox-secret", basic, "Bearer", "access_token"):
        assert secret not in text
    tokens = re.findall(r"[A-Za-z0-9_-]{40,}", text)  # access tokens are 64 characters
    assert tokens == []


def test_spent_daily_limit_stops_the_run(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    served.admin.delete(f"{served.url}/_sandbox/rate_limits")
    checked = reconciler("apply", repo, "--plan", saved, "--dry-run")  # the saved plan's checks
    assert checked.exit_code == 0, checked.output
    checks = len(served.entries())
    served.forget()
    served.configure(daily_cap=checks + 2)  # the checks, two requests, then Zoom says: tomorrow
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 1, done.output
    assert [entry.status for entry in served.patches()].count(204) <= 1  # two requests only
    assert summary(failed=(5, 3), skipped=(2, 1)) in done.stdout
    spent = (
        "Zoom's daily request limit for this account is spent; it resets at "
        f"{(datetime.now(UTC) + timedelta(days=1)):%Y-%m-%d}T00:00:00Z: run again after that"
    )
    assert "  user alice@acme.test: 2 failed, 2 skipped\n" in done.stdout
    assert f"  SKIPPED user alice@acme.test [meeting_security] webinar_password: {spent}\n" in (
        done.stdout
    )
    bob = f"  FAILED user bob@acme.test [general] schedule_meeting.participants_video: {spent}\n"
    assert bob in done.stdout
    assert f"  Stopped early: {spent}\n" in done.stdout
