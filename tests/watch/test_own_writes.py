"""Our own repair's event, known when it comes back: only an event whose every value is one we
just wrote to that very target and document; anything else is planned as usual."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.apply.report import ApplyReport, RequestOutcome
from reconciler.plan.model import Request, Writes
from reconciler.targets import TargetRef
from reconciler.watch.events import ZoomEvent, parse_delivery
from reconciler.watch.worker import ECHO_SECONDS, _OwnWrites
from tests.watch.deliveries import compact, settings_event

BODY = {"in_meeting": {"polling": True, "chat": False}}


def _written(body: dict[str, Any], *, accepted: bool = True, locks: bool = False) -> _OwnWrites:
    writes = Writes.LOCKS if locks else Writes.SETTINGS
    target = TargetRef("user", "u1", email="alice@acme.test")
    request = Request(target=target, family="general", writes=writes, body=body)
    outcome = RequestOutcome(request, "applied", body=body, accepted=accepted)
    own = _OwnWrites()
    own.record(ApplyReport(outcomes=[outcome]), now=1000.0)
    return own


def _event(
    settings: dict[str, Any], name: str = "user.settings_updated", target: str = "u1"
) -> ZoomEvent:
    event = parse_delivery(compact(settings_event(name, target, settings)), None)
    assert isinstance(event, ZoomEvent)
    return event


def test_the_event_of_what_we_wrote_is_ours() -> None:
    own = _written(BODY)
    assert own.explains(_event({"in_meeting": {"polling": True}}), now=1001.0)
    assert own.explains(_event(BODY), now=1001.0)


@pytest.mark.parametrize(
    ("event", "now"),
    [
        (_event({"in_meeting": {"polling": False}}), 1001.0),  # another value
        (_event({"in_meeting": {"polling": True, "annotation": True}}), 1001.0),  # another key
        (_event({"in_meeting": {"polling": True}}, target="u2"), 1001.0),  # another user
        (_event({"in_meeting": {"polling": True}}, "group.settings_updated"), 1001.0),
        (_event({"in_meeting": {"polling": True}}), 1000.0 + ECHO_SECONDS),  # too late
    ],
    ids=["value", "key", "target", "level", "late"],
)
def test_anything_else_is_planned(event: ZoomEvent, now: float) -> None:
    assert not _written(BODY).explains(event, now=now)


def test_a_lock_write_explains_only_a_lock_event_and_a_refused_write_nothing() -> None:
    locks = _written(BODY, locks=True)
    assert not locks.explains(_event({"in_meeting": {"polling": True}}), now=1001.0)
    assert not _written(BODY, accepted=False).explains(_event(BODY), now=1001.0)
