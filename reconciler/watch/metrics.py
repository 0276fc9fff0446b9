"""What `/metrics` shows, in Prometheus's text format: one registry per watcher (not the
process-wide default, so two watchers in one process, as in tests, never share counters)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# From a second to a minute and a half: the repairs the issue asks for, and an outage's.
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60, 90, 180)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.received = Counter(
            "watch_events_received",
            "Signed deliveries taken, by event.",
            ["event"],
            registry=registry,
        )
        self.refused = Counter(
            "watch_events_refused",
            "Deliveries refused, by reason.",
            ["reason"],
            registry=registry,
        )
        self.deduplicated = Counter(
            "watch_events_deduplicated",
            "Deliveries of an event already queued.",
            registry=registry,
        )
        self.repairs = Counter(
            "watch_repairs", "Targets re-planned, by outcome.", ["outcome"], registry=registry
        )
        self.latency = Histogram(
            "watch_repair_latency_seconds",
            "From an event's arrival to the end of the pass that handled it.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.queue_depth = Gauge(
            "watch_queue_depth", "Events stored and not yet handled.", registry=registry
        )
        self.zoom_requests = Gauge(
            "watch_zoom_requests", "Requests sent to Zoom since start.", registry=registry
        )

    def track_queue(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(depth)

    def track_requests(self, count: Callable[[], int]) -> None:
        self.zoom_requests.set_function(count)

    def text(self) -> bytes:
        return generate_latest(self.registry)
