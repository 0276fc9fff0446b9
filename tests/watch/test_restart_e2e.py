"""A watcher SIGKILLed in the middle of a repair loses nothing: the event stays in the durable
queue (claimed), and the next watcher takes it again and finishes the repair."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxConfig, acme_tenant, create_app, running_sandbox
from reconciler.watch.queue import queue_path
from tests.watch.deliveries import settings_event
from tests.watch.test_heal_e2e import ALICE, _in_meeting, _wait_value, write_repo
from tests.watch.watcher import admin_client, watching

pytestmark = pytest.mark.slow  # processes on real ports: a few seconds each


class SlowPatches:
    """The sandbox, with every PATCH held for `delay` seconds once `delay` is set."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.delay = 0.0
        self.patch_arrived = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "PATCH" and self.delay:
            self.patch_arrived.set()
            await asyncio.sleep(self.delay)
        await self.app(scope, receive, send)


def _queued(repo: Path) -> list[tuple[str, int]]:
    with closing(sqlite3.connect(queue_path(repo))) as db:
        return db.execute("SELECT event_id, claimed FROM queued").fetchall()


def test_a_killed_watcher_leaves_the_event_queued_and_the_next_one_repairs_it(
    tmp_path: Path,
) -> None:
    sandbox = create_app(SandboxConfig(), acme_tenant())
    slow = SlowPatches(sandbox)
    repo = write_repo(tmp_path / "repo")
    alice = sandbox.sandbox.tenant.user(ALICE)
    assert alice is not None
    with running_sandbox(slow) as url, closing(admin_client(url)) as admin:
        event = settings_event(
            target_id=alice.id,
            settings={"in_meeting": {"polling": False}},
            account_id=sandbox.sandbox.tenant.account.id,
        )
        with watching(repo, url, "--heal", "--window", "0.1") as first:
            first.wait_for(r"start pass")
            assert (
                admin.patch(
                    f"/users/{alice.id}/settings", json={"in_meeting": {"polling": False}}
                ).status_code
                == 204
            )
            slow.delay = 3.0  # the watcher's repair PATCH hangs: kill it there
            assert first.deliver(event, tracking="trk-kill") == (200, {"status": "queued"})
            assert slow.patch_arrived.wait(15)
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(10)
        assert _queued(repo) == [("trk-kill", 1)]
        slow.delay = 0.0
        with watching(repo, url, "--heal", "--window", "0.1") as second:
            second.wait_for(r"1 event\(s\) left by the last run are taken again")
            second.wait_for(r"event pass after intruder@example\.test \(trk-kill\)")
            _wait_value(admin, alice.id, "polling", True)
            # Zoom's retry of the same delivery after the restart is still recognised.
            assert second.deliver(event, tracking="trk-kill") == (200, {"status": "duplicate"})
        assert _queued(repo) == []
        assert _in_meeting(admin, alice.id)["polling"] is True
