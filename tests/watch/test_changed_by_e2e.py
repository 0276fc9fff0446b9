"""End to end: `reconciler watch` (no --heal) hears Zoom's event for an intruder's change, and
the next `reconciler audit` names who made the drifted value and when, in JSON and Markdown;
a drifted field no event named carries no author."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxConfig, acme_tenant, create_app, running_sandbox
from reconciler.sandbox.webhook_events import stable_id
from tests.watch.deliveries import SECRET
from tests.watch.test_heal_e2e import ALICE
from tests.watch.watcher import admin_client, watching, zoom_env

pytestmark = pytest.mark.slow  # processes on real ports

BOB = "bob@acme.test"
REPO = {
    "reconciler.yaml": "rate_tier: business\n",
    f"users/{ALICE}.yaml": "settings:\n  in_meeting:\n    polling: true\n",
    f"users/{BOB}.yaml": "settings:\n  in_meeting:\n    polling: true\n",
}


def _audit(repo: Path, url: str, fmt: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "reconciler", "audit", str(repo), "--format", fmt]
    env = {**os.environ, **zoom_env(url), "NO_COLOR": "1"}
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)


def _drift(report: dict[str, Any], email: str) -> dict[str, Any]:
    [found] = [
        f for f in report["findings"] if f["kind"] == "drift" and f["target"].get("email") == email
    ]
    return found


def test_the_audit_names_who_changed_a_drifted_field_as_the_watcher_heard_it(
    tmp_path: Path,
) -> None:
    app = create_app(SandboxConfig(), acme_tenant())  # webhooks on once the watcher listens
    repo = tmp_path / "repo"
    for name, text in REPO.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text, encoding="utf-8")
    alice, bob = app.sandbox.tenant.user(ALICE), app.sandbox.tenant.user(BOB)
    assert alice is not None and bob is not None
    with running_sandbox(app) as url:
        with closing(admin_client(url)) as admin:
            # Bob's drift predates the watcher: no event of it was sent.
            admin.patch(f"/users/{bob.id}/settings", json={"in_meeting": {"polling": False}})
        with (
            closing(admin_client(url, "intruder@example.test")) as intruder,
            watching(repo, url, "--window", "0.1") as watcher,
        ):
            watcher.wait_for(r"start pass")
            hook = {"url": f"{watcher.url}/zoom/events", "secret": SECRET.decode()}
            assert (
                intruder.patch(f"{url}/_sandbox/config", json={"webhook": hook}).status_code == 200
            )
            patched = intruder.patch(
                f"/users/{alice.id}/settings", json={"in_meeting": {"polling": False}}
            )
            assert patched.status_code == 204
            watcher.wait_for(r"drift: user alice@acme\.test \[general\] in_meeting\.polling")
            deliveries = intruder.get(f"{url}/_sandbox/webhooks").json()["deliveries"]
        [event] = [d for d in deliveries if d["event"] == "user.settings_updated"]

        audited = _audit(repo, url, "json")
        markdown = _audit(repo, url, "markdown")
    assert audited.returncode == 2, audited.stderr  # drift found
    report = json.loads(audited.stdout)
    changed = _drift(report, ALICE)
    assert changed["field"] == {"family": "settings", "path": "in_meeting.polling", "locks": False}
    assert {key: changed[key] for key in changed if key.startswith("change")} == {
        "changed_by": "intruder@example.test",
        "changed_by_id": stable_id("operator", "intruder@example.test"),
        "changed_at": changed["changed_at"],
        "change_event": "user.settings_updated",
        "change_event_id": event["event_id"],
    }
    assert changed["changed_at"].startswith(report["started_at"][:10])
    assert not any(key.startswith("change") for key in _drift(report, BOB))
    assert f"(changed by intruder@example.test at {changed['changed_at']})" in markdown.stdout
    assert markdown.stdout.count("(changed by ") == 1
