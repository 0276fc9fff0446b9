"""Zoom's settings shapes as the settings repo writes them, and pydantic models built from them.

The repo shape of a family follows Zoom's PATCH body, with three changes:

- `meeting_security` drops Zoom's same-named wrapper object (in settings and in locks).
- The authentication families replace Zoom's imperative `authentication_option {action: ...}`
  with `authentication_options`: a mapping from option name to that option's fields. The account
  owns the options (`type`, `domains`, `default_option`); groups and users only choose among them
  (`default_option`, and `visible`, which becomes Zoom's `show`/`hide`).
- Secret fields are removed (see `is_secret`): secrets never live in git.

Models are built with `pydantic.create_model` from these shapes, so a new Zoom field needs only a
schema regeneration. Every model is strict (`true`/`false` only for booleans, no numbers from
strings), forbids unknown keys, and keeps track of the keys a file set (`exclude_unset`).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, create_model
from pydantic_core import PydanticCustomError

from reconciler.schemas import Direction, zoom_lock_schema, zoom_settings_schema
from reconciler.vocab import Family, Level, LockLevel

Schema = Mapping[str, Any]
ZoomPath = tuple[str, ...]

STRICT = ConfigDict(strict=True, extra="forbid", populate_by_name=False)
AUTH_FAMILIES: tuple[Family, ...] = ("meeting_authentication", "recording_authentication")
# Keys of Zoom's `authentication_option` that the repo does not write: `action` follows from the
# diff, and an option is named by the key of `authentication_options`, not by `name` or `id`.
_OPTION_KEYS_DROPPED = ("action", "id", "name")
# Groups and users only choose among the account's options: their default, and which they see.
_MEMBER_OPTION_KEYS = ("default_option",)
_SECRET_WORDS = ("password", "passcode", "token")


def is_secret(name: str, schema: Schema) -> bool:
    """A secret is a free string named like a password, passcode or token.

    Zoom's PATCH bodies carry a few: `schedule_meeting.pmi_password` and
    `schedule_meeting.default_password_for_scheduled_meetings` (user), and the archiving
    service's `passcode` and `authorized_channel_token` (account chat). Booleans
    (`meeting_password`, `require_password_for_scheduling_new_meetings`), enums
    (`require_password_for_pmi_meetings: jbh_only|all|none`) and objects
    (`meeting_password_requirement`) are policy, not secrets, and stay settable.
    """
    lowered = name.lower()
    return (
        schema.get("type") == "string"
        and "enum" not in schema
        and any(word in lowered for word in _SECRET_WORDS)
    )


def _unwrapped(schema: Schema, wrapper: str) -> Schema:
    inner: Schema = schema.get("properties", {}).get(wrapper, schema)
    return inner


def _auth_shape(patch: Schema) -> Schema:
    properties = dict(patch["properties"])
    option = properties.pop("authentication_option")
    member = "show" in option["properties"].get("action", {}).get("enum", ())
    fields = {
        key: value
        for key, value in option["properties"].items()
        if key not in _OPTION_KEYS_DROPPED and (not member or key in _MEMBER_OPTION_KEYS)
    }
    if member:
        fields["visible"] = {"type": "boolean"}
    item = {"type": "object", "properties": fields, "additionalProperties": False}
    properties["authentication_options"] = {"type": "object", "additionalProperties": item}
    return {"type": "object", "properties": properties, "additionalProperties": False}


@cache
def family_shape(level: Level, family: Family, direction: Direction) -> Schema:
    """The shape of one family as a settings file writes it (secrets still included)."""
    zoom = zoom_settings_schema(level, family, direction)
    if family == "meeting_security":
        return _unwrapped(zoom, "meeting_security")
    if family in AUTH_FAMILIES and direction == "patch":
        return _auth_shape(zoom)
    return zoom


@cache
def lock_shape(level: LockLevel, direction: Direction) -> Schema:
    """`locks:` of a group or account: general lock sections, plus `meeting_security`."""
    general = zoom_lock_schema(level, "general", direction)
    security = _unwrapped(
        zoom_lock_schema(level, "meeting_security", direction), "meeting_security"
    )
    properties = {**general["properties"], "meeting_security": security}
    return {"type": "object", "properties": properties, "additionalProperties": False}


def child(schema: Schema, key: str) -> Schema | None:
    """The schema of `key` inside an object schema, if it has one."""
    properties: Mapping[str, Schema] = schema.get("properties", {})
    if key in properties:
        return properties[key]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def lookup(schema: Schema, path: ZoomPath) -> Schema | None:
    """The schema at `path`, or None when the shape has no such key."""
    found: Schema | None = schema
    for key in path:
        if found is None:
            return None
        found = child(found, key)
    return found


def secrets_in(schema: Schema, prefix: ZoomPath = ()) -> frozenset[ZoomPath]:
    """Every secret's path in a shape."""
    found: set[ZoomPath] = set()
    for key, sub in schema.get("properties", {}).items():
        if is_secret(key, sub):
            found.add((*prefix, key))
        found |= secrets_in(sub, (*prefix, key))
    return frozenset(found)


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in text.replace("-", "_").split("_"))


def _reject_bool(value: Any, expected: str) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError(
            "literal_error", "Input should be {expected}", {"expected": expected}
        )
    return value


def _enum(values: list[Any]) -> Any:
    literal = Literal[tuple(values)]  # type: ignore[valid-type]
    if not any(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return literal
    shown = [repr(value) for value in values]
    expected = " or ".join([", ".join(shown[:-1]), shown[-1]]) if len(shown) > 1 else shown[0]
    return Annotated[literal, BeforeValidator(lambda value: _reject_bool(value, expected))]


def _scalar(schema: Schema) -> Any:
    kind = schema.get("type")
    if kind == "boolean":
        return StrictBool
    if kind == "integer":
        return Annotated[int, Field(ge=schema.get("minimum"), le=schema.get("maximum"))]
    if kind == "number":
        return Annotated[float, Field(ge=schema.get("minimum"), le=schema.get("maximum"))]
    if kind == "string":
        return Annotated[
            str, Field(min_length=schema.get("minLength"), max_length=schema.get("maxLength"))
        ]
    return Any


def annotation(name: str, schema: Schema) -> Any:
    """The pydantic type for a shape; objects become models named `name`."""
    if "enum" in schema:
        return _enum(list(schema["enum"]))
    kind = schema.get("type")
    if kind == "array":
        item = annotation(f"{name}Item", schema.get("items", {}))
        return Annotated[list[item], Field(max_length=schema.get("maxItems"))]  # type: ignore[valid-type]
    if kind == "object" and "properties" in schema:
        return model(name, schema)
    if kind == "object":
        extra = schema.get("additionalProperties")
        value = annotation(f"{name}Entry", extra) if isinstance(extra, Mapping) else Any
        return dict[str, value]  # type: ignore[valid-type]
    return _scalar(schema)


def model(name: str, schema: Schema) -> type[BaseModel]:
    """A strict model of an object shape; each key is a field aliased to its exact name."""
    fields: dict[str, Any] = {}
    for index, (key, sub) in enumerate(schema.get("properties", {}).items()):
        if is_secret(key, sub):
            continue
        fields[f"f{index}"] = (annotation(name + _camel(key), sub), Field(None, alias=key))
    return create_model(name, __config__=STRICT, **fields)


def _readable(patch: Schema, get: Schema) -> Schema:
    """The PATCH shape less the keys Zoom never reports back: no plan could confirm those."""
    if "properties" not in patch:
        return patch
    properties = {}
    for key, sub in patch["properties"].items():
        seen = child(get, key)
        if key == "authentication_options":  # read as a list, written per option: both kept
            properties[key] = sub
        elif seen is not None:
            properties[key] = _readable(sub, seen)
    return {**patch, "properties": properties}


@cache
def managed_shape(level: Level, family: Family) -> Schema:
    """What a settings file may name: settable through PATCH and reported back by GET."""
    return _readable(family_shape(level, family, "patch"), family_shape(level, family, "get"))


@cache
def family_model(level: Level, family: Family) -> type[BaseModel]:
    return model(_camel(f"{level}_{family}"), managed_shape(level, family))


@cache
def lock_model(level: LockLevel) -> type[BaseModel]:
    return model(_camel(f"{level}_locks"), lock_shape(level, "patch"))
