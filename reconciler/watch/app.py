"""The receiver: `POST /zoom/events` (the path Zoom's own SDK serves), `GET /healthz`,
`GET /metrics`.

A delivery is checked in this order, and each refusal does nothing else: its size (413), then its
signature and timestamp over the raw bytes (401), then its shape (400). A URL validation is
answered; an unknown event is acknowledged and ignored; a known one is acknowledged (200) only
after its row is committed to the durable queue, never after its repair, so Zoom's 3 seconds
hold whatever the repair costs.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from reconciler.watch.events import (
    TRACKING_HEADER,
    Ignored,
    MalformedEvent,
    UrlValidation,
    parse_delivery,
)
from reconciler.watch.metrics import Metrics
from reconciler.watch.queue import EventQueue
from reconciler.watch.signature import (
    MAX_BODY_BYTES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureRefused,
    url_validation_answer,
    verify,
)

log = logging.getLogger("reconciler.watch")
EVENTS_PATH = "/zoom/events"


class _TooLarge(Exception):
    pass


async def _bounded_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(metrics: Metrics, status: int, reason: str, message: str) -> Response:
    metrics.refused.labels(reason).inc()
    log.warning("refused a delivery (%d, %s): %s", status, reason, message)
    return JSONResponse({"error": message}, status_code=status)


def create_app(
    secret: bytes,
    queue: EventQueue,
    metrics: Metrics,
    wake: Callable[[], None] = lambda: None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    async def events(request: Request) -> Response:
        try:
            body = await _bounded_body(request, MAX_BODY_BYTES)
        except _TooLarge:
            return _refuse(metrics, 413, "oversize", f"the body is over {MAX_BODY_BYTES} bytes")
        headers = request.headers
        try:
            verify(
                secret, headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER), body, clock()
            )
        except SignatureRefused as refused:
            return _refuse(metrics, 401, refused.kind, refused.reason)
        try:
            delivery = parse_delivery(body, headers.get(TRACKING_HEADER))
        except MalformedEvent as malformed:
            return _refuse(metrics, 400, "malformed", str(malformed))
        if isinstance(delivery, UrlValidation):
            log.info("answered Zoom's URL validation")
            return JSONResponse(url_validation_answer(secret, delivery.plain_token))
        metrics.received.labels(delivery.name).inc()
        if isinstance(delivery, Ignored):
            return JSONResponse({"status": "ignored"})
        try:
            fresh = queue.enqueue(delivery)
        except sqlite3.Error as error:
            # Not stored, so not acknowledged: Zoom retries it later.
            log.error("cannot store event %s in the queue: %s", delivery.event_id, error)
            return JSONResponse({"error": "the event could not be stored"}, status_code=503)
        if not fresh:
            metrics.deduplicated.inc()
            log.info("event %s delivered again: already queued", delivery.event_id)
            return JSONResponse({"status": "duplicate"})
        log.info(
            "queued %s %s by %s (%s)",
            delivery.name,
            delivery.event_id,
            delivery.operator or "unknown operator",
            ", ".join(target.label for target in delivery.targets),
        )
        wake()
        return JSONResponse({"status": "queued"})

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def metrics_text(_: Request) -> Response:
        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    def depth() -> int:
        try:
            return queue.depth()
        except sqlite3.Error:
            return -1  # the queue cannot be read: shown, rather than /metrics failing

    metrics.track_queue(depth)
    return Starlette(
        routes=[
            Route(EVENTS_PATH, events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_text, methods=["GET"]),
        ]
    )
