"""Delivering event notifications the way Zoom does: signed POSTs from the background, retried.

A write's handler only enqueues (`Webhooks.emit`); a task per event object (a user, a group, the
account) sends that object's events in order, so two changes to one user arrive as made, while a
receiver that is slow on one user does not hold up the others. Pending events are bounded
(`queue_limit`): past it the oldest is dropped and counted, so a dead receiver cannot grow the
sandbox's memory without end.

Retries follow Zoom's published schedule ("Resolving webhook delays", developers.zoom.us/blog/
webhook-delays): a delivery counts when the endpoint answers 2xx within three seconds; otherwise
Zoom retries three times, 5 minutes after the first attempt, 20 minutes after the first retry and
60 minutes after the second, and then gives the event up. `retry_scale` shrinks those delays for
tests (0.01: 3 s, 12 s, 36 s). Each attempt is signed afresh with its own timestamp, so a late
retry passes a receiver's replay window; its body and `x-zm-trackingid` stay the same.

The log (`entries()`, `GET /_sandbox/webhooks`) keeps each event with its attempts and outcome;
it never holds the secret token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2

from reconciler.sandbox.config import WebhookTarget
from reconciler.sandbox.webhook_events import (
    VALIDATION_EVENT,
    body_bytes,
    encrypted_token,
    signature,
    url_validation_event,
)

log = logging.getLogger(__name__)

# Seconds before each attempt at Zoom's pace: the first at once, then three retries.
ZOOM_RETRY_DELAYS = (0.0, 5 * 60.0, 20 * 60.0, 60 * 60.0)
_IN_FLIGHT = 8  # POSTs at once across all objects, like a small pool of Zoom's senders
_LOG_LIMIT = 10_000

Outcome = Literal["pending", "delivered", "failed", "dropped"]
Clock = Callable[[], float]


@dataclass
class Delivery:
    """One event on its way, and what became of it."""

    event_id: str
    event: str
    key: str
    document: dict[str, Any]
    body: bytes
    enqueued_at: float
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    outcome: Outcome = "pending"
    finished_at: float | None = None
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event": self.event,
            "object": self.key,
            "attempts": self.attempts,
            "statuses": list(self.statuses),
            "outcome": self.outcome,
            "enqueued_at": self.enqueued_at,
            "finished_at": self.finished_at,
            "body": self.document,
        }


class Webhooks:
    """The sandbox's outgoing event notifications: queue, senders, log.

    `target()` returns the current webhook config (None: webhooks off); it is read at every
    attempt, so `PATCH /_sandbox/config` takes effect at once.
    """

    def __init__(self, target: Callable[[], WebhookTarget | None], clock: Clock) -> None:
        self._target = target
        self._clock = clock
        self._pending: OrderedDict[str, Delivery] = OrderedDict()
        self._by_key: dict[str, deque[Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._log: deque[Delivery] = deque(maxlen=_LOG_LIMIT)
        self._client: httpx2.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None
        self._idle: asyncio.Event | None = None
        self.dropped = 0
        self.validation: dict[str, Any] | None = None
        self._chores: set[asyncio.Task[Any]] = set()

    @property
    def enabled(self) -> bool:
        return self._target() is not None

    # queueing -----------------------------------------------------------------

    def emit(self, document: dict[str, Any], key: str) -> Delivery | None:
        """Queue `document` for the receiver (None when webhooks are off). Never waits."""
        target = self._target()
        if target is None:
            return None
        delivery = Delivery(
            event_id=str(uuid.uuid4()),
            event=str(document["event"]),
            key=key,
            document=document,
            body=body_bytes(document),
            enqueued_at=self._clock(),
        )
        while len(self._pending) >= target.queue_limit:
            self._drop_oldest()
        self._pending[delivery.event_id] = delivery
        self._log.append(delivery)
        self._by_key.setdefault(key, deque()).append(delivery)
        self._idle_event().clear()
        if key not in self._workers:
            self._workers[key] = asyncio.get_running_loop().create_task(self._work(key))
        return delivery

    def _drop_oldest(self) -> None:
        _, oldest = self._pending.popitem(last=False)
        oldest.outcome = "dropped"
        oldest.finished_at = self._clock()
        oldest.cancelled.set()
        self.dropped += 1
        log.warning("webhook queue full: dropped %s %s", oldest.event, oldest.event_id)

    async def _work(self, key: str) -> None:
        queue = self._by_key[key]
        try:
            while queue:
                delivery = queue[0]
                if delivery.outcome == "pending":
                    await self._deliver(delivery)
                queue.popleft()
        finally:
            del self._workers[key]
            if not queue:
                del self._by_key[key]
            if not self._pending:
                self._idle_event().set()

    def _idle_event(self) -> asyncio.Event:
        if self._idle is None:
            self._idle = asyncio.Event()
            self._idle.set()
        return self._idle

    # sending ------------------------------------------------------------------

    async def _deliver(self, delivery: Delivery) -> None:
        for delay in ZOOM_RETRY_DELAYS:
            target = self._target()
            if target is None:
                break
            if delay and await self._cancelled_within(delivery, delay * target.retry_scale):
                return
            async with self._slot():
                status = await self._post(target, delivery.body, delivery.event_id)
            if delivery.outcome != "pending":  # dropped while it was being sent
                return
            delivery.attempts += 1
            delivery.statuses.append(status)
            if isinstance(status, int) and 200 <= status < 300:
                self._finish(delivery, "delivered")
                return
            log.info("webhook %s attempt %d: %s", delivery.event, delivery.attempts, status)
        self._finish(delivery, "failed")

    def _finish(self, delivery: Delivery, outcome: Outcome) -> None:
        delivery.outcome = outcome
        delivery.finished_at = self._clock()
        self._pending.pop(delivery.event_id, None)
        if outcome == "failed":
            log.warning(
                "webhook %s %s given up after %d attempts (%s)",
                delivery.event,
                delivery.event_id,
                delivery.attempts,
                ", ".join(str(status) for status in delivery.statuses) or "webhooks turned off",
            )

    @staticmethod
    async def _cancelled_within(delivery: Delivery, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(delivery.cancelled.wait(), seconds)
        return delivery.cancelled.is_set()

    def _slot(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(_IN_FLIGHT)
        return self._slots

    def _http(self) -> httpx2.AsyncClient:
        if self._client is None:
            self._client = httpx2.AsyncClient(follow_redirects=False, trust_env=False)
        return self._client

    def _signed_headers(
        self, target: WebhookTarget, body: bytes, tracking_id: str
    ) -> dict[str, str]:
        timestamp = int(self._clock())  # the sandbox's clock: a test's fake one pins the bytes
        return {
            "content-type": "application/json; charset=utf-8",
            "user-agent": "Zoom Marketplace/1.0a",
            "x-zm-request-timestamp": str(timestamp),
            "x-zm-signature": signature(target.secret.get_secret_value(), timestamp, body),
            "x-zm-trackingid": tracking_id,
        }

    async def _post(self, target: WebhookTarget, body: bytes, tracking_id: str) -> int | str:
        """POST one signed attempt; its status, or what went wrong ("timeout", ...)."""
        headers = self._signed_headers(target, body, tracking_id)
        try:
            answer = await self._http().post(
                target.url, content=body, headers=headers, timeout=target.timeout_seconds
            )
        except httpx2.TimeoutException:
            return "timeout"
        except httpx2.HTTPError as exc:
            return f"connection error: {type(exc).__name__}"
        except Exception as exc:  # whatever it was, the event must not hang as pending
            return f"error: {type(exc).__name__}"
        return answer.status_code

    # URL validation -------------------------------------------------------------

    async def validate_endpoint(self) -> dict[str, Any]:
        """Send Zoom's `endpoint.url_validation` challenge and check the receiver's answer.

        Zoom does this when an app's endpoint URL is saved; a wrong answer keeps the URL from
        being saved. The sandbox logs the outcome and keeps sending either way.
        """
        target = self._target()
        if target is None:
            return {"outcome": "skipped", "detail": "no webhook URL configured"}
        plain = secrets.token_urlsafe(16)
        body = body_bytes(url_validation_event(plain, int(self._clock() * 1000)))
        headers = self._signed_headers(target, body, str(uuid.uuid4()))
        expected = encrypted_token(target.secret.get_secret_value(), plain)
        try:
            answer = await self._http().post(
                target.url, content=body, headers=headers, timeout=target.timeout_seconds
            )
            result = _judge_validation(answer, plain, expected)
        except httpx2.TimeoutException:
            result = {"outcome": "refused", "detail": "no answer within the timeout"}
        except httpx2.HTTPError as exc:
            result = {"outcome": "refused", "detail": f"connection error: {type(exc).__name__}"}
        self.validation = {"event": VALIDATION_EVENT, "url": target.url, **result}
        if result["outcome"] == "validated":
            log.info("webhook URL %s validated", target.url)
        else:
            log.warning("webhook URL %s failed validation: %s", target.url, result["detail"])
        return self.validation

    def validate_soon(self) -> None:
        """Run `validate_endpoint` in the background (at start-up, or when the URL changes)."""
        task = asyncio.get_running_loop().create_task(self.validate_endpoint())
        self._chores.add(task)  # held until done, so it is not garbage-collected mid-way
        task.add_done_callback(self._chores.discard)

    # for tests and the control API ------------------------------------------------

    def entries(self) -> list[dict[str, Any]]:
        return [delivery.as_dict() for delivery in self._log]

    def pending(self) -> int:
        return len(self._pending)

    def clear(self) -> None:
        """Forget the log and the drop counter (pending events still go out)."""
        self._log.clear()
        self.dropped = 0

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every queued event is delivered, failed or dropped."""
        await asyncio.wait_for(self._idle_event().wait(), timeout)

    async def aclose(self) -> None:
        """Stop the senders (pending events are left undelivered) and close the client."""
        tasks = [*self._workers.values(), *self._chores]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _judge_validation(answer: httpx2.Response, plain: str, expected: str) -> dict[str, Any]:
    if answer.status_code != 200:
        return {"outcome": "refused", "detail": f"answered {answer.status_code}, not 200"}
    try:
        document = answer.json()
    except ValueError:
        return {"outcome": "refused", "detail": "the answer is not JSON"}
    if not isinstance(document, dict) or document.get("plainToken") != plain:
        return {"outcome": "refused", "detail": "the answer does not echo plainToken"}
    if document.get("encryptedToken") != expected:
        return {"outcome": "refused", "detail": "encryptedToken does not match the secret"}
    return {"outcome": "validated", "detail": "plainToken and encryptedToken match"}
