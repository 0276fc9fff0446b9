"""Zoom's webhook deliveries, parsed strictly into what the worker needs: the targets an event
touches, who changed them, which keys, when, and an id to recognise a second delivery by.

Shapes follow the typed event definitions Zoom publishes with its SDKs: every settings event has
`payload.{account_id, operator, operator_id, object: {id, settings}}`; `user.created` and
`user.updated` name the user in `object.id`; `group.member_added` / `group.member_deleted` name
the group in `object.id` and the users in `object.members[].id` (or `email`). Anything else Zoom
sends is acknowledged and ignored; a known event missing what it must carry is malformed (400,
nothing enqueued).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from reconciler.escape import quoted
from reconciler.vocab import email_key

TRACKING_HEADER = "x-zm-trackingid"  # Zoom's id of a delivery (its SDKs read it by this name)
URL_VALIDATION = "endpoint.url_validation"
SETTINGS_EVENTS: Mapping[str, Literal["account", "group", "user"]] = {
    "user.settings_updated": "user",
    "group.settings_updated": "group",
    "group.lock_settings_updated": "group",
    "account.settings_updated": "account",
    "account.lock_settings_updated": "account",
}
USER_EVENTS = frozenset({"user.created", "user.updated"})
MEMBER_EVENTS = frozenset({"group.member_added", "group.member_deleted"})
_ID_LIMIT = 128  # Zoom's ids are ~22 characters; emails up to 128
_KEY_DEPTH = 4  # settings are at most three levels deep; deeper is not Zoom's shape
_MEMBERS_LIMIT = 1000  # one delivery names at most a page of members

TargetKind = Literal["account", "group", "user"]


class MalformedEvent(Exception):
    """A delivery that claims to be a known event but lacks its shape (answered 400)."""


@dataclass(frozen=True)
class Touched:
    """A target an event changed, as Zoom names it: by id (a member event may give an email)."""

    kind: TargetKind
    id: str
    email: str | None = None

    @property
    def label(self) -> str:
        return self.kind if self.kind == "account" else f"{self.kind} {self.email or self.id}"


@dataclass(frozen=True)
class ZoomEvent:
    event_id: str
    digest: str  # sha256 of the body: a second delivery of the same body is the same event
    name: str
    event_ts: int  # milliseconds since the epoch, as Zoom sends it
    account_id: str
    operator: str | None
    operator_id: str | None
    targets: tuple[Touched, ...]
    changed: tuple[str, ...]  # dotted keys the event says changed
    # A settings event's new values: (dotted key, canonical JSON), to tell our own writes' events
    values: tuple[tuple[str, str], ...] = ()

    @property
    def time(self) -> str:
        moment = datetime.fromtimestamp(self.event_ts / 1000, UTC)
        return moment.isoformat(timespec="milliseconds")

    def to_json(self) -> str:
        record = {**vars(self), "targets": [vars(target) for target in self.targets]}
        record["changed"] = list(self.changed)
        record["values"] = [list(pair) for pair in self.values]
        return json.dumps(record, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ZoomEvent:
        """An event as the queue stored it (written by `to_json`, so trusted as our own)."""
        record = json.loads(text)
        targets = tuple(Touched(**target) for target in record.pop("targets"))
        values = tuple((key, value) for key, value in record.pop("values", []))
        changed = tuple(record.pop("changed"))
        return cls(**record, targets=targets, changed=changed, values=values)


@dataclass(frozen=True)
class UrlValidation:
    plain_token: str


@dataclass(frozen=True)
class Ignored:
    name: str


Delivery = ZoomEvent | UrlValidation | Ignored


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def parse_delivery(body: bytes, tracking_id: str | None) -> Delivery:
    """What a verified body is; MalformedEvent if it is not a Zoom event of a known shape."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEvent("the body is not JSON") from exc
    top = _object(document, "the body")
    name = _text(top, "event", "the body")
    payload = _object(top.get("payload"), "payload")
    if name == URL_VALIDATION:
        return UrlValidation(_text(payload, "plainToken", "payload", limit=256))
    if name not in SETTINGS_EVENTS and name not in USER_EVENTS and name not in MEMBER_EVENTS:
        return Ignored(name)
    return _event(name, top, payload, body, tracking_id)


def _event(
    name: str, top: dict[str, Any], payload: dict[str, Any], body: bytes, tracking: str | None
) -> ZoomEvent:
    event_ts = top.get("event_ts")
    if type(event_ts) is not int or event_ts < 0:
        raise MalformedEvent("event_ts is not a time in milliseconds")
    obj = _object(payload.get("object"), "payload.object")
    targets, changed = _touched(name, payload, obj)
    values: tuple[tuple[str, str], ...] = ()
    if name in SETTINGS_EVENTS:
        values = tuple(sorted(settings_leaves(obj["settings"]).items()))
    digest = body_digest(body)
    return ZoomEvent(
        event_id=_tracking(tracking) or f"sha256:{digest[:32]}",
        digest=digest,
        name=name,
        event_ts=event_ts,
        account_id=_text(payload, "account_id", "payload"),
        operator=_optional_text(payload, "operator", "payload"),
        operator_id=_optional_text(payload, "operator_id", "payload"),
        targets=targets,
        changed=changed,
        values=values,
    )


def _touched(
    name: str, payload: dict[str, Any], obj: dict[str, Any]
) -> tuple[tuple[Touched, ...], tuple[str, ...]]:
    if name in SETTINGS_EVENTS:
        kind = SETTINGS_EVENTS[name]
        settings = _object(obj.get("settings"), "payload.object.settings")
        keys = tuple(sorted(key for key, _ in _leaves(settings, (), "payload.object.settings")))
        return (Touched(kind, _text(obj, "id", "payload.object")),), keys
    if name in USER_EVENTS:
        keys = tuple(sorted(key for key in obj if key != "id"))
        return (Touched("user", _text(obj, "id", "payload.object")),), keys
    _text(obj, "id", "payload.object")  # the group: its members are what moved
    return _members(obj.get("members")), ("members",)


def _members(members: object) -> tuple[Touched, ...]:
    if not isinstance(members, list) or not members or len(members) > _MEMBERS_LIMIT:
        raise MalformedEvent(f"payload.object.members is not a list of 1 to {_MEMBERS_LIMIT}")
    found = []
    for index, member in enumerate(members):
        where = f"payload.object.members[{index}]"
        entry = _object(member, where)
        member_id = _optional_text(entry, "id", where)
        email = _optional_text(entry, "email", where)
        if member_id is None and email is None:
            raise MalformedEvent(f"{where} has neither id nor email")
        found.append(Touched("user", member_id or "", email and email_key(email)))
    return tuple(found)


def settings_leaves(settings: dict[str, Any]) -> dict[str, str]:
    """Dotted key -> canonical JSON of each leaf of a settings document (an event's, or a PATCH
    body): the same write has the same leaves, however its JSON was spaced or ordered."""
    return {
        key: json.dumps(value, sort_keys=True, separators=(",", ":"))
        for key, value in _leaves(settings, (), "settings")
    }


def _leaves(
    settings: dict[str, Any], prefix: tuple[str, ...], where: str
) -> Iterator[tuple[str, Any]]:
    if len(prefix) >= _KEY_DEPTH:
        raise MalformedEvent(f"{where} nests deeper than Zoom's settings do")
    for key, value in settings.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, (*prefix, key), where)
        else:
            yield ".".join((*prefix, key)), value


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvent(f"{where} is not a JSON object")
    return value


def _text(document: dict[str, Any], key: str, where: str, *, limit: int = _ID_LIMIT) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise MalformedEvent(f"{where}.{key} is not a string of 1 to {limit} characters")
    if not value.isprintable():
        raise MalformedEvent(f"{where}.{key} holds control characters: {quoted(value)}")
    return value


def _optional_text(document: dict[str, Any], key: str, where: str) -> str | None:
    return None if document.get(key) in (None, "") else _text(document, key, where)


def _tracking(value: str | None) -> str | None:
    """Zoom's tracking id, if it looks like one (it is logged, so nothing odd is kept)."""
    if not value or len(value) > _ID_LIMIT or not value.isascii() or not value.isprintable():
        return None
    return value if all(ch.isalnum() or ch in "-_.:" for ch in value) else None
