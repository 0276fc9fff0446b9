"""End to end: the sandbox served on 127.0.0.1, `reconciler watch --heal` on a real port, an
intruder's PATCH of a managed field and the event Zoom would send for it: the value goes back,
and the audit log names the operator. An unmanaged field is left alone; a forged delivery is 401
and costs Zoom nothing."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.runlock import RunLock, run_lock_path
from reconciler.sandbox import SandboxApp, SandboxConfig, acme_tenant, create_app, running_sandbox
from reconciler.sandbox.config import WebhookTarget
from reconciler.sandbox.webhook_events import stable_id
from tests.watch.deliveries import SECRET, settings_event
from tests.watch.watcher import admin_client, watching

pytestmark = pytest.mark.slow  # processes on real ports: a few seconds each

ALICE = "alice@acme.test"
REPO = {
    "reconciler.yaml": "rate_tier: business\n",
    "users/alice@acme.test.yaml": "settings:\n  in_meeting:\n    polling: true\n",
}


def write_repo(root: Path) -> Path:
    for name, text in REPO.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def settle(app: SandboxApp) -> int:
    """The journal's length once it stops growing (it is written after each answer)."""
    journal, seen, quiet = app.sandbox.journal, -1, 0
    while quiet < 5:
        quiet = quiet + 1 if len(journal) == seen else 0
        seen = len(journal)
        time.sleep(0.02)
    return seen


def audit_lines(repo: Path) -> list[dict[str, Any]]:
    text = (repo / ".reconciler" / "audit.log").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxApp, str]]:
    app = create_app(SandboxConfig(), acme_tenant())
    with running_sandbox(app) as url:
        yield app, url


def _in_meeting(admin: Any, user_id: str) -> dict[str, Any]:
    answer = admin.get(f"/users/{user_id}/settings")
    assert answer.status_code == 200
    in_meeting: dict[str, Any] = answer.json()["in_meeting"]
    return in_meeting


def _wait_value(admin: Any, user_id: str, key: str, value: object, timeout: float = 15) -> float:
    started = time.monotonic()
    while _in_meeting(admin, user_id)[key] != value:
        assert time.monotonic() - started < timeout, f"{key} never became {value!r}"
        time.sleep(0.05)
    return time.monotonic() - started


def webhooked_app(port: int) -> SandboxApp:
    """The acme sandbox sending its signed events to a watcher on `port` (Zoom's retry
    schedule at 1/100)."""
    webhook = WebhookTarget(
        url=f"http://127.0.0.1:{port}/zoom/events", secret=SECRET.decode(), retry_scale=0.01
    )
    return create_app(SandboxConfig(webhook=webhook), acme_tenant())


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_watch_heal_puts_back_what_the_sandbox_reports_and_names_who_changed_it(
    tmp_path: Path,
) -> None:
    """The sandbox itself sends the signed events of every write (the intruder's, and our own
    repair's), as Zoom would, to the watcher's URL."""
    port = free_port()
    app = webhooked_app(port)
    repo = write_repo(tmp_path / "repo")
    alice = app.sandbox.tenant.user(ALICE)
    assert alice is not None
    with (
        running_sandbox(app) as url,
        closing(admin_client(url, "intruder@example.test")) as intruder,
        watching(repo, url, "--heal", "--window", "0.1", port=port) as watcher,
    ):
        watcher.wait_for(r"start pass.*(in sync|put back)")
        # Zoom's handshake when the endpoint URL is saved, as the sandbox sends it.
        validation = intruder.post(f"{url}/_sandbox/webhooks/validate").json()
        assert validation["outcome"] == "validated", validation

        # The intruder turns polling off (managed) and annotation over (no file names it).
        annotation = _in_meeting(intruder, alice.id)["annotation"]
        patched = intruder.patch(
            f"/users/{alice.id}/settings",
            json={"in_meeting": {"polling": False, "annotation": not annotation}},
        )
        assert patched.status_code == 204
        _wait_value(intruder, alice.id, "polling", True)
        watcher.wait_for(r"event pass after intruder@example\.test.*put back")
        repaired = settle(app)
        # Our own repair's event comes back (the sandbox names the account's owner): known as
        # ours, nothing planned, nothing read, nothing written (no loop).
        watcher.wait_for(
            r"user\.settings_updated \S+ by alice@acme\.test is our own repair coming back"
        )
        assert settle(app) == repaired
        assert _in_meeting(intruder, alice.id)["annotation"] is (not annotation)
        assert _patches(app) == 2  # the intruder's and the repair

        deliveries = intruder.get(f"{url}/_sandbox/webhooks").json()["deliveries"]
        intruders = next(d for d in deliveries if d["event"] == "user.settings_updated")
        [line] = [line for line in audit_lines(repo) if line.get("result") == "applied"]
        assert line["path"] == f"/users/{alice.id}/settings"
        assert line["body"] == {"in_meeting": {"polling": True}}
        assert [(f["path"], f["before"], f["after"]) for f in line["fields"]] == [
            (["in_meeting", "polling"], False, True)
        ]
        [cause] = line["watch"]["cause"]
        assert cause["event_id"] == intruders["event_id"]  # Zoom's x-zm-trackingid
        assert cause["operator"] == "intruder@example.test"
        assert cause["operator_id"] == stable_id("operator", "intruder@example.test")
        assert cause["changed"] == ["in_meeting.annotation", "in_meeting.polling"]

        # A forged delivery: 401, and not one request reaches Zoom.
        requests_before = settle(app)
        forged = settings_event(target_id=alice.id, account_id=app.sandbox.tenant.account.id)
        assert watcher.deliver(forged, secret=b"not-the-secret")[0] == 401
        time.sleep(0.5)  # longer than the window: a pass would have started
        assert settle(app) == requests_before
        assert _patches(app) == 2


def test_watch_heal_on_events_signed_here(tmp_path: Path, sandbox: tuple[SandboxApp, str]) -> None:
    """The same repair from a delivery signed by the test (a sandbox without webhooks): a
    tracking id of our choosing; an event that our write explains is not planned, one that
    carries a value we did not write is, and finds the target in sync (no write)."""
    app, url = sandbox
    repo = write_repo(tmp_path / "repo")
    alice = app.sandbox.tenant.user(ALICE)
    assert alice is not None
    with (
        closing(admin_client(url, "intruder@example.test")) as admin,
        watching(repo, url, "--heal", "--window", "0.1") as watcher,
    ):
        watcher.wait_for(r"start pass.*(in sync|put back)")
        assert (
            admin.patch(
                f"/users/{alice.id}/settings", json={"in_meeting": {"polling": False}}
            ).status_code
            == 204
        )
        event = settings_event(
            target_id=alice.id,
            settings={"in_meeting": {"polling": False}},
            account_id=app.sandbox.tenant.account.id,
        )
        assert watcher.deliver(event, tracking="trk-intruder-1") == (200, {"status": "queued"})
        _wait_value(admin, alice.id, "polling", True)
        watcher.wait_for(r"event pass after intruder@example\.test \(trk-intruder-1\).*put back")
        [line] = [line for line in audit_lines(repo) if line.get("result") == "applied"]
        [cause] = line["watch"]["cause"]
        assert (cause["event_id"], cause["operator"], cause["operator_id"]) == (
            "trk-intruder-1",
            "intruder@example.test",
            "op-1",
        )
        assert line["watch"]["trigger"] == "event"
        seen = len(watcher.lines)
        echo = settings_event(
            target_id=alice.id,
            settings={"in_meeting": {"polling": True}},
            operator="reconciler@acme.test",
            event_ts=event["event_ts"] + 1,
            account_id=app.sandbox.tenant.account.id,
        )
        assert watcher.deliver(echo)[0] == 200
        watcher.wait_for(r"by reconciler@acme\.test is our own repair coming back", after=seen)
        # polling as we wrote it, and a key we did not write: not ours alone, so planned.
        other = settings_event(
            target_id=alice.id,
            settings={"in_meeting": {"polling": True, "chat": True}},
            operator="someone@acme.test",
            event_ts=event["event_ts"] + 2,
            account_id=app.sandbox.tenant.account.id,
        )
        assert watcher.deliver(other)[0] == 200
        watcher.wait_for(r"event pass after someone@acme\.test.*in sync", after=seen)
        assert _patches(app) == 2


def _patches(app: SandboxApp) -> int:
    return sum(1 for entry in app.sandbox.journal.entries() if entry.method == "PATCH")


def test_watch_without_heal_reports_drift_and_writes_nothing(
    tmp_path: Path, sandbox: tuple[SandboxApp, str]
) -> None:
    app, url = sandbox
    repo = write_repo(tmp_path / "repo")
    alice = app.sandbox.tenant.user(ALICE)
    assert alice is not None
    with closing(admin_client(url)) as admin:
        admin.patch(f"/users/{alice.id}/settings", json={"in_meeting": {"polling": False}})
        with watching(repo, url, "--window", "0.1", "--resync-every", "1") as watcher:
            line = watcher.wait_for(r"drift: user alice@acme\.test \[general\] in_meeting\.polling")
            assert line.endswith("Zoom has False, the repo wants True")
            watcher.wait_for(r"start pass: 1 change\(s\) of drift, not put back \(no --heal\)")
            # --resync-every: the full plan again, with no event.
            watcher.wait_for(r"resync pass: 1 change\(s\) of drift, not put back")
        # SIGTERM (what a service manager sends): a clean stop, the queue empty.
        assert watcher.process.returncode == 0
        watcher.wait_for(r"stopped; 0 event\(s\) wait in the queue")
        assert _in_meeting(admin, alice.id)["polling"] is False
    assert _patches(app) == 1  # the admin's own
    assert not (repo / ".reconciler" / "audit.log").exists()


def test_a_group_event_replans_its_members_and_an_account_event_everything(
    tmp_path: Path,
) -> None:
    """Zoom's GET shows effective values: a change to Engineering (or the account) can move
    alice, whose file manages polling, so her settings are read again for it."""
    port = free_port()
    app = webhooked_app(port)
    repo = write_repo(tmp_path / "repo")
    alice = app.sandbox.tenant.user(ALICE)
    assert alice is not None
    [group_id] = alice.group_ids
    with (
        running_sandbox(app) as url,
        closing(admin_client(url, "intruder@example.test")) as intruder,
        watching(repo, url, "--heal", "--window", "0.1", port=port) as watcher,
    ):
        watcher.wait_for(r"start pass")
        start = settle(app)
        assert (
            intruder.patch(
                f"/groups/{group_id}/settings", json={"in_meeting": {"annotation": False}}
            ).status_code
            == 204
        )
        watcher.wait_for(r"event pass after intruder@example\.test")
        reads = [(e.method, e.path) for e in app.sandbox.journal.entries()[start:]]
        assert ("GET", f"/v2/groups/{group_id}/members") in reads
        assert ("GET", f"/v2/users/{alice.id}/settings") in reads
        assert ("GET", "/v2/users") not in reads  # a group event lists its members only

        seen, start = len(watcher.lines), settle(app)
        assert (
            intruder.patch(
                "/accounts/me/settings", json={"in_meeting": {"annotation": False}}
            ).status_code
            == 204
        )
        watcher.wait_for(r"event pass after intruder@example\.test", after=seen)
        reads = [(e.method, e.path) for e in app.sandbox.journal.entries()[start:]]
        assert ("GET", f"/v2/users/{alice.id}/settings") in reads
        assert _patches(app) == 2  # the intruder's two; alice holds polling herself


def test_a_repair_past_the_safety_limits_is_refused_and_sends_nothing(
    tmp_path: Path, sandbox: tuple[SandboxApp, str]
) -> None:
    app, url = sandbox
    repo = write_repo(tmp_path / "repo")
    (repo / "reconciler.yaml").write_text(
        "rate_tier: business\nsafety:\n  max_changed_targets: 0\n"
    )
    alice = app.sandbox.tenant.user(ALICE)
    assert alice is not None
    with closing(admin_client(url)) as admin:
        admin.patch(f"/users/{alice.id}/settings", json={"in_meeting": {"polling": False}})
        with watching(repo, url, "--heal", "--window", "0.1") as watcher:
            line = watcher.wait_for(r"repair refused")
            assert "1 targets change, more than max_changed_targets (0)" in line
        assert _in_meeting(admin, alice.id)["polling"] is False
    assert _patches(app) == 1  # the admin's own


def test_a_repair_waits_for_an_apply_that_holds_the_run_lock(
    tmp_path: Path, sandbox: tuple[SandboxApp, str]
) -> None:
    """The watcher holds the run lock only while it repairs (a scheduled apply can take it), and
    waits for it when an apply holds it."""
    app, url = sandbox
    repo = write_repo(tmp_path / "repo")
    alice = app.sandbox.tenant.user(ALICE)
    assert alice is not None
    account = app.sandbox.tenant.account.id
    with (
        closing(admin_client(url, "intruder@example.test")) as admin,
        watching(repo, url, "--heal", "--window", "0.1") as watcher,
    ):
        watcher.wait_for(r"start pass")
        lock = RunLock(run_lock_path(repo, account), "scheduled-apply")
        with lock:  # taken at once: the idle watcher does not hold it
            admin.patch(f"/users/{alice.id}/settings", json={"in_meeting": {"polling": False}})
            event = settings_event(target_id=alice.id, account_id=account)
            assert watcher.deliver(event)[0] == 200
            time.sleep(1.0)
            assert _in_meeting(admin, alice.id)["polling"] is False
            assert _patches(app) == 1
        _wait_value(admin, alice.id, "polling", True)


def test_a_user_added_to_a_group_gets_its_members_profile(tmp_path: Path) -> None:
    """group.member_added moves what a user inherits: the watcher reads the user again (not
    the directory it kept, which knew them without the group) and applies the profile."""
    port = free_port()
    app = webhooked_app(port)
    mallory = app.sandbox.tenant.user("mallory@acme.test")
    sales = next(g for g in app.sandbox.tenant.groups.values() if g.name == "Sales")
    assert mallory is not None
    with running_sandbox(app) as url, closing(admin_client(url, "hr@example.test")) as admin:
        wanted = not _in_meeting(admin, mallory.id)["annotation"]
        repo = tmp_path / "repo"
        (repo / "groups").mkdir(parents=True)
        (repo / "reconciler.yaml").write_text("rate_tier: business\n")
        value = str(wanted).lower()
        profile = (
            f"members:\n  priority: 10\n  settings:\n    in_meeting:\n      annotation: {value}\n"
        )
        (repo / "groups" / "Sales.yaml").write_text(profile)
        with watching(repo, url, "--heal", "--window", "0.1", port=port) as watcher:
            watcher.wait_for(r"start pass")
            assert _in_meeting(admin, mallory.id)["annotation"] is (not wanted)  # not a member
            added = admin.post(
                f"/groups/{sales.id}/members", json={"members": [{"email": mallory.email}]}
            )
            assert added.status_code == 201, added.text
            _wait_value(admin, mallory.id, "annotation", wanted)
            watcher.wait_for(r"event pass after hr@example\.test.*put back")
    [line] = [
        line
        for line in audit_lines(repo)
        if line.get("result") == "applied" and line["watch"]["trigger"] == "event"
    ]
    assert line["path"] == f"/users/{mallory.id}/settings"
    assert [(c["event"], c["operator"]) for c in line["watch"]["cause"]] == [
        ("group.member_added", "hr@example.test")
    ]
