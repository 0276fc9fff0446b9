"""The receiver alone: every delivery gets its status, and only a genuine, well-formed, new event
reaches the queue (nothing else is stored, and nothing is sent anywhere)."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from reconciler.watch.app import create_app
from reconciler.watch.metrics import Metrics
from reconciler.watch.queue import EventQueue, queue_path
from reconciler.watch.signature import MAX_BODY_BYTES
from tests.watch.deliveries import SECRET, compact, settings_event, signed_headers


class Receiver:
    def __init__(self, root: Path) -> None:
        self.queue = EventQueue(queue_path(root))
        self.metrics = Metrics()
        self.woken = 0
        app = create_app(SECRET, self.queue, self.metrics, self._wake)
        self.client = TestClient(app)

    def _wake(self) -> None:
        self.woken += 1

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
        answer = self.client.post("/zoom/events", content=body, headers=headers)
        return answer.status_code, answer.json()

    def metric(self, line_start: str) -> float:
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(line_start + " "):
                return float(line.split()[-1])
        raise AssertionError(f"no metric {line_start}")


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    found = Receiver(tmp_path)
    yield found
    found.queue.close()


def test_url_validation_is_answered_with_the_tokens_hmac(receiver: Receiver) -> None:
    body = compact(
        {"event": "endpoint.url_validation", "payload": {"plainToken": "qgg8vlvZRS6UYooatFL8Aw"}}
    )
    status, answer = receiver.post(body, signed_headers(body))
    expected = hmac.new(SECRET, b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert (status, answer) == (
        200,
        {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected},
    )
    assert receiver.queue.depth() == 0


def test_a_signed_event_is_queued_and_wakes_the_worker(receiver: Receiver) -> None:
    body = compact(settings_event())
    status, answer = receiver.post(body, signed_headers(body, tracking="trk-1"))
    assert (status, answer) == (200, {"status": "queued"})
    [item] = receiver.queue.claim()
    event = item.event
    assert (event.event_id, event.name, event.operator, event.operator_id) == (
        "trk-1",
        "user.settings_updated",
        "intruder@example.test",
        "op-1",
    )
    assert [(t.kind, t.id) for t in event.targets] == [("user", "u1")]
    assert event.changed == ("in_meeting.chat",)
    assert receiver.woken == 1
    assert receiver.metric('watch_events_received_total{event="user.settings_updated"}') == 1


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (lambda body: signed_headers(body, secret=b"another-secret"), "signature"),
        (lambda body: {**signed_headers(body), "x-zm-signature": "v0=" + "0" * 64}, "signature"),
        (lambda body: {"content-type": "application/json"}, "signature"),
        (lambda body: signed_headers(body, at=time.time() - 301), "stale"),
        (lambda body: signed_headers(body, at=time.time() + 301), "stale"),
    ],
    ids=["wrong-secret", "forged", "unsigned", "stale", "future"],
)
def test_a_delivery_not_signed_now_by_zoom_is_401_and_stores_nothing(
    receiver: Receiver, headers: object, reason: str
) -> None:
    body = compact(settings_event())
    status, answer = receiver.post(body, headers(body))  # type: ignore[operator]
    assert status == 401
    assert "error" in answer
    assert receiver.queue.depth() == 0
    assert receiver.woken == 0
    assert receiver.metric(f'watch_events_refused_total{{reason="{reason}"}}') == 1


def test_a_tampered_body_fails_its_signature(receiver: Receiver) -> None:
    body = compact(settings_event())
    headers = signed_headers(body)
    tampered = body.replace(b"intruder", b"innocent")
    status, answer = receiver.post(tampered, headers)
    assert (status, answer) == (401, {"error": "x-zm-signature does not match the body"})
    assert receiver.queue.depth() == 0


def test_a_replayed_delivery_is_refused_once_stale_and_deduplicated_while_fresh(
    receiver: Receiver,
) -> None:
    body = compact(settings_event())
    headers = signed_headers(body)
    assert receiver.post(body, headers) == (200, {"status": "queued"})
    # Zoom's retry, or a replay within the five minutes: the same body is the same event.
    assert receiver.post(body, headers) == (200, {"status": "duplicate"})
    assert receiver.queue.depth() == 1
    assert receiver.metric("watch_events_deduplicated_total") == 1
    old = signed_headers(body, at=time.time() - 3600)
    status, _ = receiver.post(body, old)
    assert status == 401
    assert receiver.queue.depth() == 1


def test_the_same_tracking_id_is_a_duplicate_even_with_another_body(receiver: Receiver) -> None:
    first, second = compact(settings_event()), compact(settings_event(event_ts=1))
    assert receiver.post(first, signed_headers(first, tracking="t-9"))[1] == {"status": "queued"}
    assert receiver.post(second, signed_headers(second, tracking="t-9"))[1] == {
        "status": "duplicate"
    }
    assert receiver.queue.depth() == 1


def test_a_duplicate_is_recognised_after_its_repair_is_done(receiver: Receiver) -> None:
    body = compact(settings_event())
    receiver.post(body, signed_headers(body))
    receiver.queue.done(receiver.queue.claim())
    assert receiver.post(body, signed_headers(body)) == (200, {"status": "duplicate"})
    assert receiver.queue.depth() == 0


def test_an_oversized_body_is_413_before_its_signature_is_checked(receiver: Receiver) -> None:
    body = b'{"event":"user.settings_updated","pad":"' + b"x" * MAX_BODY_BYTES + b'"}'
    status, answer = receiver.post(body, signed_headers(body))
    assert (status, answer) == (413, {"error": f"the body is over {MAX_BODY_BYTES} bytes"})
    assert receiver.queue.depth() == 0
    assert receiver.metric('watch_events_refused_total{reason="oversize"}') == 1


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (b"not json", "the body is not JSON"),
        (b"[]", "the body is not a JSON object"),
        (compact({"event": "user.settings_updated"}), "payload is not a JSON object"),
        (
            compact({**settings_event(), "event_ts": "soon"}),
            "event_ts is not a time in milliseconds",
        ),
        (
            compact(settings_event(settings=["in_meeting"])),  # type: ignore[arg-type]
            "payload.object.settings is not a JSON object",
        ),
        (
            compact(
                {
                    "event": "group.member_added",
                    "event_ts": 1,
                    "payload": {
                        "account_id": "a",
                        "operator": "o",
                        "operator_id": "i",
                        "object": {"id": "g1", "members": [{"first_name": "x"}]},
                    },
                }
            ),
            "payload.object.members[0] has neither id nor email",
        ),
        (
            compact({"event": "endpoint.url_validation", "payload": {"plainToken": 7}}),
            "payload.plainToken is not a string of 1 to 256 characters",
        ),
    ],
    ids=["not-json", "array", "no-payload", "bad-ts", "settings-list", "member", "token"],
)
def test_a_malformed_event_is_400_and_stores_nothing(
    receiver: Receiver, document: bytes, error: str
) -> None:
    status, answer = receiver.post(document, signed_headers(document))
    assert (status, answer) == (400, {"error": error})
    assert receiver.queue.depth() == 0
    assert receiver.woken == 0


def test_an_unknown_event_is_acknowledged_and_ignored(receiver: Receiver) -> None:
    body = compact({"event": "meeting.started", "event_ts": 1, "payload": {"object": {}}})
    assert receiver.post(body, signed_headers(body)) == (200, {"status": "ignored"})
    assert receiver.queue.depth() == 0
    assert receiver.woken == 0


def test_member_and_user_events_name_the_users_they_move(receiver: Receiver) -> None:
    member = {
        "event": "group.member_added",
        "event_ts": 5,
        "payload": {
            "account_id": "a",
            "operator": "o@x.test",
            "operator_id": "i",
            "object": {"id": "g1", "members": [{"id": "u7"}, {"email": "Bob@X.test"}]},
        },
    }
    updated = {
        "event": "user.updated",
        "event_ts": 6,
        "payload": {"account_id": "a", "object": {"id": "u8", "type": 2, "dept": "x"}},
    }
    for document in (member, updated):
        body = compact(document)
        assert receiver.post(body, signed_headers(body))[1] == {"status": "queued"}
    first, second = (item.event for item in receiver.queue.claim())
    assert [(t.kind, t.id, t.email) for t in first.targets] == [
        ("user", "u7", None),
        ("user", "", "bob@x.test"),
    ]
    assert [(t.id, second.operator, second.changed) for t in second.targets] == [
        ("u8", None, ("dept", "type"))
    ]


def test_healthz_and_metrics(receiver: Receiver) -> None:
    assert receiver.client.get("/healthz").text == "ok\n"
    text = receiver.client.get("/metrics").text
    assert "watch_queue_depth 0.0" in text
    assert "# TYPE watch_repair_latency_seconds histogram" in text


def test_the_queue_file_is_private(receiver: Receiver, tmp_path: Path) -> None:
    path = queue_path(tmp_path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_an_event_the_queue_cannot_store_is_503_so_zoom_sends_it_again(
    receiver: Receiver, tmp_path: Path
) -> None:
    body = compact(settings_event())
    receiver.queue.close()  # the database is gone from under the receiver
    status, answer = receiver.post(body, signed_headers(body))
    assert (status, answer) == (503, {"error": "the event could not be stored"})
    assert receiver.woken == 0
    assert receiver.metric("watch_queue_depth") == -1  # /metrics still answers
    receiver.queue = EventQueue(queue_path(tmp_path))  # for the fixture's close
