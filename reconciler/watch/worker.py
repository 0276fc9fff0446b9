"""The worker: events from the durable queue, coalesced for a short window, then a plan of only
the targets they touch, through a fresh live reader; with --heal the drift goes back through
`reconcile()`, as `reconciler apply` does (safety limits, audit log), under the run lock taken
for that repair alone.

Our own PATCHes come back as events too: one that carries only what we wrote is known as ours
and not planned; any other finds the target in sync and sends nothing. A repair never loops.

`repair_targets` is the one seam between the watcher and the apply machinery: it takes the
scope the events reach and returns what became of it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reconciler.apply.report import ApplyReport
from reconciler.apply.run import ApplyRequest, reconcile
from reconciler.connect import Session
from reconciler.desired import DesiredState
from reconciler.diff import MISSING
from reconciler.errors import DailyLimitReached, NotFound, ReconcilerError, RunLocked, UnsafePlan
from reconciler.live import LiveReader
from reconciler.live.directory import Directory
from reconciler.plan.model import Change, Plan, Writes
from reconciler.plan.run import make_plan
from reconciler.targets import EVERYTHING, Scope
from reconciler.vocab import email_key
from reconciler.watch.events import (
    SETTINGS_EVENTS,
    MalformedEvent,
    Touched,
    ZoomEvent,
    settings_leaves,
)
from reconciler.watch.metrics import Metrics
from reconciler.watch.queue import EventQueue, QueuedEvent
from reconciler.watch.repo import WatchedRepo

log = logging.getLogger("reconciler.watch")
# Events after which a kept directory may be wrong: a user's email, status or groups moved.
MOVES_USERS = frozenset(
    {"user.created", "user.updated", "group.member_added", "group.member_deleted"}
)
COALESCE_SECONDS = 0.5
RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 300.0
LOCK_WAIT_SECONDS = 60.0
ECHO_SECONDS = 120.0  # how long our own write's event is expected back (Zoom sends within seconds)
Trigger = Literal["event", "start", "resync"]


@dataclass(frozen=True)
class WatchSettings:
    heal: bool
    audit_log: Path
    window: float = COALESCE_SECONDS
    resync_every: float | None = None
    lock_wait: float = LOCK_WAIT_SECONDS


@dataclass
class RepairOutcome:
    """What one pass found and did: the plan's drift, and with --heal the apply's report."""

    plan: Plan
    report: ApplyReport | None = None
    refused: str | None = None

    @property
    def drift(self) -> list[Change]:
        return self.plan.pending

    @property
    def label(self) -> str:
        if self.refused:
            return "refused"
        if not self.drift:
            return "in_sync"
        if self.report is None:
            return "drift"
        failed = [c for c in self.report.changes if c.result in ("failed", "not_applied")]
        return "failed" if failed or self.report.stopped else "repaired"


@dataclass(frozen=True)
class Cause:
    """Why a pass ran: its trigger and the events (each names who changed what)."""

    trigger: Trigger
    events: tuple[ZoomEvent, ...] = ()

    def for_target(self, target: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The events that explain a change to `target`: those naming it, else those above it
        (an account or group event reaches its members), else every event of the pass."""
        own = [e for e in self.events if any(_names(t, target) for t in e.targets)]
        above = [e for e in self.events if any(t.kind != "user" for t in e.targets)]
        return [_event_record(event) for event in own or above or self.events]


def _names(touched: Touched, target: Mapping[str, Any]) -> bool:
    if touched.kind != target.get("kind"):
        return False
    if touched.kind == "account":
        return True
    email = target.get("email")
    return touched.id == target.get("id") or bool(email and touched.email == email_key(email))


def _event_record(event: ZoomEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "event": event.name,
        "operator": event.operator,
        "operator_id": event.operator_id,
        "changed_at": event.time,
        "changed": list(event.changed),
    }


# -- the seam: touched targets in, outcome out ---------------------------------------------------


async def repair_targets(
    state: DesiredState,
    session: Session,
    scope: Scope,
    settings: WatchSettings,
    cause: Cause,
) -> RepairOutcome:
    """Plan `scope` with fresh reads; with --heal, apply its drift through `reconcile()`, the
    same call as `reconciler apply` (run lock held only meanwhile and waited for without
    blocking the receiver, safety limits, audit log lines naming the events).

    Raises RunLocked when another apply holds the lock past `settings.lock_wait`."""
    # Fresh reads (no lock documents or values cached from an earlier pass); the directory of
    # users and groups is the caller's to keep or renew.
    fresh = dataclasses.replace(session, reader=session.reader.fresh())
    if not settings.heal:
        return RepairOutcome(await make_plan(state, fresh, scope))
    request = ApplyRequest(
        scope=scope,
        lock_timeout=settings.lock_wait,
        audit_log=settings.audit_log,
        annotate=lambda record: _annotation(cause, record),
    )
    shown: list[Plan] = []
    try:
        outcome = await reconcile(
            state,
            fresh,
            request,
            confirm=lambda _plan: True,
            shown=lambda plan, _: shown.append(plan),
        )
    except UnsafePlan as unsafe:
        return RepairOutcome(shown[-1], refused=str(unsafe))
    return RepairOutcome(outcome.plan, outcome.report if outcome.plan.requests else None)


def _annotation(cause: Cause, record: Mapping[str, Any]) -> dict[str, Any]:
    target = record.get("target")
    events = cause.for_target(target) if isinstance(target, Mapping) else []
    return {"watch": {"trigger": cause.trigger, "cause": events}}


# -- the worker ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Write:
    at: float
    kind: str
    target_id: str
    locks: bool
    leaves: dict[str, str]


@dataclass
class _OwnWrites:
    """What our repairs sent in the last ECHO_SECONDS, to know their events when Zoom sends them
    back: an event whose every changed value is one we just wrote to that target says nothing
    new (a foreign write among them would carry a value of its own, or keys we did not send),
    so it is not planned again. Anything else, or any doubt, is planned as usual."""

    writes: list[_Write] = field(default_factory=list)

    def record(self, report: ApplyReport | None, now: float) -> None:
        self.writes = [w for w in self.writes if now - w.at < ECHO_SECONDS]
        for outcome in report.outcomes if report else []:
            if not outcome.accepted or not outcome.body:
                continue
            request = outcome.request
            try:
                leaves = settings_leaves(outcome.body)
            except MalformedEvent:
                continue
            locks = request.writes is Writes.LOCKS
            self.writes.append(_Write(now, request.target.kind, request.target.id, locks, leaves))

    def explains(self, event: ZoomEvent, now: float) -> bool:
        if event.name not in SETTINGS_EVENTS or len(event.targets) != 1 or not event.values:
            return False
        target, locks = event.targets[0], "lock_settings" in event.name
        return any(
            now - write.at < ECHO_SECONDS
            and write.kind == target.kind
            and (target.kind == "account" or write.target_id == target.id)
            and write.locks == locks
            and all(write.leaves.get(key) == value for key, value in event.values)
            for write in self.writes
        )


@dataclass
class _Names:
    """Zoom's ids as the repo names them, kept across passes (one lookup per id)."""

    emails: dict[str, str | None] = field(default_factory=dict)  # user id -> email (None: gone)
    # Users (with their groups) and groups as Zoom listed them, kept while no event says a
    # user or a membership changed: a user event's pass then costs no lookup of the user.
    directory: Directory = field(default_factory=Directory)

    def forget(self, event: ZoomEvent) -> None:
        if event.name in MOVES_USERS:
            self.directory = Directory()
        if event.name in ("user.updated", "user.created"):  # an email may have changed
            for target in event.targets:
                self.emails.pop(target.id, None)

    def reader(self, session: Session) -> LiveReader:
        return LiveReader(session.zoom, self.directory)


class Worker:
    def __init__(
        self,
        repo: WatchedRepo,
        session: Session,
        queue: EventQueue,
        metrics: Metrics,
        settings: WatchSettings,
    ) -> None:
        self.repo = repo
        self.session = session
        self.queue = queue
        self.metrics = metrics
        self.settings = settings
        self._wakeup = asyncio.Event()
        self._names = _Names()
        self._own = _OwnWrites()
        metrics.track_requests(lambda: session.zoom.counters.requests)

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        """Forever: what the queue holds at start, then a full plan (events missed while down),
        then each batch of events as it comes, and a full plan every --resync-every seconds."""
        released = self.queue.release_claims()
        if released:
            log.info("%d event(s) left by the last run are taken again", released)
        await self.drain()
        pause = RETRY_SECONDS
        while not await self.full_pass("start"):  # the backstop is owed until it ran once
            # Longer each time, as in drain: wrong credentials or a Zoom that is down are not
            # asked again every few seconds for as long as the service runs.
            log.info("start pass: next try in %g s", pause)
            await asyncio.sleep(pause)
            pause = min(2 * pause, MAX_RETRY_SECONDS)
            await self.drain()
        next_resync = self._next_resync()
        while True:
            timeout = None if next_resync is None else max(0.0, next_resync - time.monotonic())
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                await self.full_pass("resync")
                next_resync = self._next_resync()
                continue
            await asyncio.sleep(self.settings.window)  # let a burst of events gather
            self._wakeup.clear()
            await self.drain()

    def _next_resync(self) -> float | None:
        every = self.settings.resync_every
        return None if every is None else time.monotonic() + every

    async def drain(self) -> None:
        """Every queued event, a pass per batch; a batch that fails is given back and tried
        again after a pause, longer each time (nothing is lost, and a Zoom that is down is not
        asked again every few seconds)."""
        pause = RETRY_SECONDS
        while items := self.queue.claim():
            if not await self._pass_for(items):
                self.queue.unclaim(items)
                log.info("%d event(s) kept in the queue; next try in %g s", len(items), pause)
                await asyncio.sleep(pause)
                pause = min(2 * pause, MAX_RETRY_SECONDS)
                continue
            pause = RETRY_SECONDS
            self.queue.done(items)
            now = time.time()
            for item in items:
                self.metrics.latency.observe(max(0.0, now - item.received_at))

    async def full_pass(self, trigger: Trigger) -> bool:
        self._names.directory = Directory()  # everything is listed again
        return await self._repair(EVERYTHING, Cause(trigger))

    async def _pass_for(self, items: list[QueuedEvent]) -> bool:
        events = [item.event for item in items]
        ours = [e for e in events if e.account_id == self.session.account_id]
        for other in (e for e in events if e not in ours):
            log.warning(
                "event %s is for another account (%s): ignored", other.event_id, other.account_id
            )
        now = time.monotonic()
        echoes = [e for e in ours if self._own.explains(e, now)]
        for echo in echoes:
            log.info(
                "%s %s by %s is our own repair coming back (in sync as left): nothing planned",
                echo.name,
                echo.event_id,
                echo.operator or "unknown operator",
            )
            self.metrics.repairs.labels("own_write").inc()
        ours = [e for e in ours if e not in echoes]
        if not ours:
            return True
        try:
            scope = await self._scope(ours)
        except DailyLimitReached as error:
            log.error("Zoom's daily limit is reached: %s", error)
            return False
        except ReconcilerError as error:
            log.error("cannot tell which targets events reach: %s", error)
            return False
        if scope is None:
            log.info("%d event(s) reach no target Zoom still has", len(ours))
            return True
        return await self._repair(scope, Cause("event", tuple(ours)))

    async def _repair(self, scope: Scope, cause: Cause) -> bool:
        state = self.repo.current()
        started = self.session.zoom.counters.requests
        session = dataclasses.replace(self.session, reader=self._names.reader(self.session))
        try:
            outcome = await repair_targets(state, session, scope, self.settings, cause)
        except RunLocked as locked:
            log.warning("repair waits: %s", locked)
            return False
        except ReconcilerError as error:
            log.error("%s pass failed: %s", cause.trigger, str(error).splitlines()[0])
            self.metrics.repairs.labels("failed").inc()
            return False
        sent = self.session.zoom.counters.requests - started
        self._own.record(outcome.report, time.monotonic())
        self.metrics.repairs.labels(outcome.label).inc()
        _log_outcome(outcome, cause, sent)
        return True

    async def _scope(self, events: list[ZoomEvent]) -> Scope | None:
        """The targets the events reach: an account event reaches everything the repo manages;
        a group event the group and its members; a user event the user."""
        state = self.repo.current()
        for event in events:
            self._names.forget(event)
        reader = self._names.reader(self.session)
        groups: set[str] = set()
        users: set[str] = set()
        for event in events:
            for target in event.targets:
                if target.kind == "account":
                    return EVERYTHING
                if target.kind == "group":
                    groups.add(await self._group_name(reader, target.id))
                else:
                    email = target.email or await self._email(reader, target.id)
                    if email:
                        users.add(email)
        groups.discard("")
        if not groups and not users:
            return None
        return Scope(
            account=False,
            groups=frozenset(name for name in groups if name in state.groups),
            users=frozenset(users),
            member_groups=frozenset(groups),
        )

    async def _group_name(self, reader: LiveReader, group_id: str) -> str:
        await reader.load_groups()
        group = reader.directory.groups_by_id.get(group_id)
        return group["name"] if group else ""

    async def _email(self, reader: LiveReader, user_id: str) -> str | None:
        if user_id not in self._names.emails:
            try:
                user = await reader.user_by_id(user_id)
            except NotFound:
                self._names.emails[user_id] = None
            else:
                active = user.get("status", "active") == "active"
                self._names.emails[user_id] = email_key(user["email"]) if active else None
        return self._names.emails[user_id]


def _log_outcome(outcome: RepairOutcome, cause: Cause, sent: int) -> None:
    who = ", ".join(sorted({f"{e.operator or '?'} ({e.event_id})" for e in cause.events}))
    because = f" after {who}" if who else ""
    if outcome.refused:
        log.error("repair refused%s: %s", because, outcome.refused)
        return
    if not outcome.drift:
        log.info("%s pass%s: in sync (%d request(s))", cause.trigger, because, sent)
        return
    for change in outcome.drift:
        log.info(
            "drift: %s [%s] %s: Zoom has %s, the repo wants %s%s",
            change.target.label,
            change.family,
            ".".join(change.path),
            "(unset)" if change.before is MISSING else repr(change.before),
            repr(change.after),
            because,
        )
    report = outcome.report
    if report is None:
        log.info(
            "%s pass%s: %d change(s) of drift, not put back (no --heal) (%d request(s))",
            cause.trigger,
            because,
            len(outcome.drift),
            sent,
        )
    else:
        done = sum(1 for c in report.changes if c.result == "applied")
        log.info(
            "%s pass%s: %d of %d change(s) put back (%d request(s))",
            cause.trigger,
            because,
            done,
            len(outcome.drift),
            sent,
        )
