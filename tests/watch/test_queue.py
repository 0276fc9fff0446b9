"""The durable queue: what is committed survives the process; claims outlive a dead worker and
are given back on the next start; duplicates are recognised after the repair is done."""

from __future__ import annotations

from pathlib import Path

from reconciler.watch.events import parse_delivery
from reconciler.watch.queue import EventQueue, queue_path
from tests.watch.deliveries import compact, settings_event


def _event(target: str, tracking: str | None = None):  # type: ignore[no-untyped-def]
    event = parse_delivery(compact(settings_event(target_id=target)), tracking)
    return event


def test_items_survive_a_reopen_and_claims_are_released_on_start(tmp_path: Path) -> None:
    path = queue_path(tmp_path)
    with EventQueue(path) as queue:
        assert queue.enqueue(_event("u1"), now=100.0)
        assert queue.enqueue(_event("u2"), now=101.0)
        claimed = queue.claim()
        assert [item.event.targets[0].id for item in claimed] == ["u1", "u2"]
        assert queue.claim() == []  # claimed once only
        # the process dies here: nothing is done or given back
    with EventQueue(path) as queue:
        assert queue.claim() == []
        assert queue.release_claims() == 2
        again = queue.claim()
        assert [(item.event.targets[0].id, item.received_at) for item in again] == [
            ("u1", 100.0),
            ("u2", 101.0),
        ]
        queue.done(again[:1])
        queue.unclaim(again[1:])
        assert queue.depth() == 1
        assert [item.event.targets[0].id for item in queue.claim()] == ["u2"]


def test_a_duplicate_is_refused_until_it_is_days_old(tmp_path: Path) -> None:
    with EventQueue(queue_path(tmp_path)) as queue:
        assert queue.enqueue(_event("u1", "t1"), now=0.0)
        queue.done(queue.claim())
        assert not queue.enqueue(_event("u1", "t1"), now=10.0)
        # A later enqueue forgets what is older than SEEN_DAYS.
        assert queue.enqueue(_event("u2", "t2"), now=4 * 86400.0)
        assert queue.enqueue(_event("u1", "t1"), now=4 * 86400.0 + 1)
        assert queue.depth() == 2
