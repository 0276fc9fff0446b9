"""`reconciler apply` end to end: the CLI against the sandbox on 127.0.0.1 and its journal."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.sandbox import generate_tenant
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


def summary(**counts: str) -> str:
    """The summary block of a run, every line given or its default."""
    lines = {
        "applied": "3 target(s)",
        "unchanged": "0 target(s) already in sync",
        "blocked": "0 target(s), never sent",
        "stale": "0 target(s)",
        "failed": "0 target(s)",
        "not applied": "0 target(s)",
    }
    lines.update({key.replace("_", " "): value for key, value in counts.items()})
    return "Apply summary\n" + "".join(f"  {k + ':':<12} {v}\n" for k, v in lines.items())


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
    assert summary() in done.stdout
    assert done.stdout.endswith(
        "Verified: every field sent was read back from Zoom and matches the repo; "
        "a fresh plan of these targets has nothing pending.\n"
    )
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
    assert summary(applied="2 target(s)", stale="1 target(s): user alice@acme.test") in done.stdout
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
    assert summary(applied="2 target(s)", unchanged="1 target(s) already in sync") in done.stdout
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
    assert done.exit_code == 1
    assert done.stderr == "error: the plan's checksum does not match its content: it was edited\n"
    assert served.entries() == []


# -- what Zoom does not keep, and failures ------------------------------------------------------


def test_lock_added_after_the_plan_is_reported_not_applied(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    served.change("/accounts/me/settings", {"in_meeting": {"annotation": True}})
    served.change("/accounts/me/lock_settings", {"in_meeting": {"annotation": True}})
    assert served.app.sandbox.config.locked_patch == "ignore"  # Zoom's silent variant
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 1, done.output
    assert patches(served) == SENT  # annotation was still `before`, so it was sent
    assert summary(applied="2 target(s)", not_applied="1 target(s): user alice@acme.test") in (
        done.stdout
    )
    assert (
        "  NOT APPLIED user alice@acme.test [general] in_meeting.annotation: Zoom answered 204 "
        "but kept the old value: the account locks it in Zoom; lift that lock, or leave the "
        "setting to that level\n"
    ) in done.stdout
    assert done.stdout.endswith(
        "Not converged: a fresh plan would still show the stale, failed, not applied "
        "and skipped changes above.\n"
    )


def test_a_group_lock_added_after_the_plan_is_named(served: Served, repo: Path) -> None:
    saved = save_plan(repo, served)
    group = next(g.id for g in served.tenant.groups.values() if g.name == "Engineering")
    served.change(f"/groups/{group}/settings", {"in_meeting": {"annotation": True}})
    served.change(f"/groups/{group}/lock_settings", {"in_meeting": {"annotation": True}})
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 1, done.output
    assert (
        "  NOT APPLIED user alice@acme.test [general] in_meeting.annotation: Zoom answered 204 "
        "but kept the old value: group Engineering locks it in Zoom; lift that lock, or leave "
        "the setting to that level\n"
    ) in done.stdout


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
    assert summary(applied="2 target(s)", failed="1 target(s): user bob@acme.test") in done.stdout
    assert f"  FAILED user bob@acme.test [general]: {LICENCE_ERROR}\n" in done.stdout


@pytest.mark.usefixtures("basic_bob")
def test_fail_fast_sends_nothing_after_a_failure(served: Served, tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", BASIC_BOB)
    done = reconciler("apply", repo, "--yes", "--fail-fast")
    assert done.exit_code == 1, done.output
    assert patches(served) == [(BOB, "", {"feature": {"webinar": True}})]
    assert (
        summary(applied="0 target(s)", failed="1 target(s): user bob@acme.test")
        + (
            "  skipped:     1 target(s) (stopped by --fail-fast after user bob@acme.test [general] "
            "failed): user bob@acme.test\n"
        )
        in done.stdout
    )


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
    assert done.exit_code == 3, done.output
    assert patches(served) == SENT
    blocked = "1 target(s), never sent: user mallory@acme.test"
    assert summary(blocked=blocked) in done.stdout


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
        assert summary(applied="10 target(s)", unchanged="14 target(s) already in sync") in (
            forced.stdout
        )


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
    served.configure(daily_cap=2)  # two requests, then Zoom says: tomorrow
    done = reconciler("apply", repo, "--plan", saved, "--yes")
    assert done.exit_code == 1, done.output
    assert [entry.status for entry in served.patches()].count(204) <= 1  # two requests only
    failed = "3 target(s): user alice@acme.test, user bob@acme.test, user erin@acme.test"
    assert summary(applied="0 target(s)", failed=failed) in done.stdout
    spent = (
        "Zoom's daily request limit for this account is spent; it resets at "
        f"{(datetime.now(UTC) + timedelta(days=1)):%Y-%m-%d}T00:00:00Z: run again after that"
    )
    assert f"  skipped:     1 target(s) ({spent}): user alice@acme.test\n" in done.stdout
    assert f"  FAILED user bob@acme.test [general]: {spent}\n" in done.stdout
