"""Pydantic's validation errors as problems a person can act on: file:line:col, key path, hint."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.desired.models import (
    FAMILY_KEYS,
    LEVEL_OF,
    FileKind,
    Scope,
    file_model,
    policy_key_path,
    scope_of,
)
from reconciler.desired.problems import KeyPath, problem
from reconciler.desired.scalars import BOOLEAN_LOOKALIKES, Timestamp
from reconciler.desired.yamlfile import Document
from reconciler.desired.zoomfields import ZoomPath, family_shape, lookup, secrets_in
from reconciler.errors import ConfigError
from reconciler.escape import quoted

Message = tuple[str, str | None]
NULL_HINT = "a key with nothing after it is null: give it a value, or remove the key"
_NULL_HINT = NULL_HINT


def describe(value: Any) -> str:
    """A value as the person wrote it, for "got ..." in a message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, Timestamp):
        return f"the date {value}"
    if isinstance(value, str):
        return f"the string {quoted(value)}"
    return "a list" if isinstance(value, list) else "a mapping"


def _bool_hint(value: Any) -> str | None:
    if isinstance(value, str) and value.lower() in BOOLEAN_LOOKALIKES:
        return "use true or false: YAML 1.2 reads on/off/yes/no as strings"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return f"remove the quotes: {value.lower()}"
    if isinstance(value, int) and value in (0, 1):
        return "use true or false, not 1 or 0"
    return _NULL_HINT if value is None else None


def _number_hint(value: Any) -> str | None:
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return f"remove the quotes: {value.strip()}"
    return _NULL_HINT if value is None else None


def _string_hint(value: Any) -> str | None:
    if isinstance(value, Timestamp):
        return f"quote it: '{value}' (unquoted, YAML tools read it as a date)"
    if isinstance(value, bool | int | float):
        return f"quote it: '{describe(value).removeprefix('the number ')}'"
    return _NULL_HINT if value is None else None


def _mapping_hint(value: Any) -> str | None:
    if isinstance(value, list):
        return "write `key: value` lines here, not `- item` lines"
    return _NULL_HINT if value is None else None


def _closest(word: str, choices: list[str]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _literal_hint(value: Any, choices: list[str]) -> str | None:
    if isinstance(value, Timestamp):
        return _string_hint(value)
    if not isinstance(value, str):
        return _NULL_HINT if value is None else None
    if value.strip() in choices and value.strip().lstrip("+-").isdigit():
        return f"remove the quotes: {value.strip()}"
    close = _closest(value, choices)
    return f"did you mean '{close}'?" if close else None


def _literal(error: ErrorDetails) -> Message:
    expected = str(error.get("ctx", {}).get("expected", ""))
    value = error["input"]
    choices = [part.strip(" '") for part in expected.replace(" or ", ", ").split(",")]
    return f"must be {expected}, got {describe(value)}", _literal_hint(value, choices)


def _bounds(error: ErrorDetails) -> Message:
    ctx = error.get("ctx", {})
    value = describe(error["input"]).removeprefix("the number ")
    length = len(error["input"]) if isinstance(error["input"], str) else "?"
    texts = {
        "greater_than_equal": f"must be at least {ctx.get('ge')}, got {value}",
        "less_than_equal": f"must be at most {ctx.get('le')}, got {value}",
        "too_long": f"at most {ctx.get('max_length')} items, got {ctx.get('actual_length')}",
        "string_too_long": f"at most {ctx.get('max_length')} characters, got {length}",
        "string_too_short": f"at least {ctx.get('min_length')} characters, got {length}",
    }
    return texts[error["type"]], None


_TYPE_MESSAGES: dict[str, tuple[str, Callable[[Any], str | None]]] = {
    "bool_type": ("expected true or false", _bool_hint),
    "int_type": ("expected an integer", _number_hint),
    "float_type": ("expected a number", _number_hint),
    "string_type": ("expected a string", _string_hint),
    "model_type": ("expected a mapping", _mapping_hint),
    "dict_type": ("expected a mapping", _mapping_hint),
    "list_type": ("expected a list", lambda value: _NULL_HINT if value is None else None),
}
_BOUNDS = (
    "greater_than_equal",
    "less_than_equal",
    "too_long",
    "string_too_long",
    "string_too_short",
)


def value_message(error: ErrorDetails) -> Message:
    """What is wrong with a value, and how to fix it."""
    kind, value = error["type"], error["input"]
    if kind in _TYPE_MESSAGES:
        text, hint = _TYPE_MESSAGES[kind]
        return f"{text}, got {describe(value)}", hint(value)
    if kind == "literal_error":
        return _literal(error)
    if kind in _BOUNDS:
        return _bounds(error)
    return error["msg"][:1].lower() + error["msg"][1:], None


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for field in annotation.model_fields.values():
            if (field.alias or "") == part:
                return field.annotation
        return next((f.annotation for n, f in annotation.model_fields.items() if n == part), None)
    args = typing.get_args(annotation)
    return _unwrap(args[-1]) if args else None


def _model_in(annotation: Any) -> Any:
    """A union's model (a `policies:` entry is a name or a mapping), else the annotation."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return annotation
    models = [_unwrap(arg) for arg in typing.get_args(annotation)]
    found = [m for m in models if isinstance(m, type) and issubclass(m, BaseModel)]
    return found[0] if len(found) == 1 else annotation


def keys_at(kind: FileKind, path: KeyPath) -> list[str]:
    """The keys a file of `kind` allows inside the mapping at `path`."""
    annotation: Any = file_model(kind)
    for part in path:
        annotation = _step(annotation, part)
    annotation = _model_in(_unwrap(annotation))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [field.alias or name for name, field in annotation.model_fields.items()]
    return []


def _zoom_path(scope: Scope, path: KeyPath) -> ZoomPath:
    return tuple(str(part) for part in path[len(scope.prefix) :])


def _zoom_unknown(scope: Scope, path: KeyPath) -> Message | None:
    zoom = _zoom_path(scope, path)
    if zoom in secrets_in(scope.shape("patch")):
        return (
            "a secret: secrets never live in git",
            "remove it, and set it in Zoom's web portal or a secret store",
        )
    if scope.family is None and lookup(family_shape(scope.level, "general", "patch"), zoom):
        return "cannot be locked: Zoom has no lock for this setting", None
    readable = lookup(scope.shape("get"), zoom) is not None
    writable = lookup(scope.shape("patch"), zoom) is not None
    if readable and not writable:
        return (
            "read-only: Zoom reports it, but its API cannot set it",
            "remove it; it cannot be managed from git",
        )
    if writable and not readable and scope.family is not None:
        return (
            "write-only: Zoom accepts it but never reports it back, so no plan could confirm it",
            "remove it; set it once in Zoom's web portal",
        )
    return None


def _home(kind: FileKind, parent: KeyPath, key: str) -> str | None:
    """The family key under which `key` belongs, when it was written at a family's root or above."""
    members = parent[:1] == ("members",) and kind == "group"
    inner = parent[1:] if members else parent
    if kind == "reconciler" or len(inner) > 1 or (inner and inner[0] not in FAMILY_KEYS):
        return None
    level = "user" if members else LEVEL_OF[kind]
    for family_key, family in FAMILY_KEYS.items():
        if inner != (family_key,) and lookup(family_shape(level, family, "patch"), (key,)):
            return family_key
    return None


def _placement_hint(kind: FileKind, path: KeyPath) -> str | None:
    key, parent = str(path[-1]), path[:-1]
    if key in FAMILY_KEYS and parent and parent[-1] in FAMILY_KEYS:
        return f"{key} is an option family of its own: move it to the top level of the file"
    home = _home(kind, parent, key)
    return f"did you mean {home}.{key}?" if home else None


def unknown_key(kind: FileKind, path: KeyPath) -> Message:
    """An unknown key: a secret, read-only, not lockable, misplaced, or a typo."""
    scope = scope_of(kind, path)
    known = _zoom_unknown(scope, path) if scope else None
    if known:
        return known
    hint = _placement_hint(kind, path)
    choices = keys_at(kind, path[:-1])
    close = _closest(str(path[-1]), choices)
    if close and not hint:
        hint = f"did you mean '{close}'?"
    elif not hint and 0 < len(choices) <= 8:
        hint = "expected one of: " + ", ".join(choices)
    return "unknown key", hint


def _missing(kind: FileKind, path: KeyPath) -> Message:
    return f"missing the required key '{path[-1]}'", None


def schema_problems(doc: Document, kind: FileKind, exc: ValidationError) -> list[ConfigError]:
    """One problem per pydantic error, at the key (unknown, missing) or value it is about."""
    found = []
    for error in exc.errors(include_url=False):
        path: KeyPath = tuple(error["loc"])
        if kind == "reconciler":
            path = policy_key_path(path)
        if error["type"] == "extra_forbidden":
            text, hint = unknown_key(kind, path)
            spot = doc.spot(path, key=True)
        elif error["type"] == "missing":
            text, hint = _missing(kind, path)
            path = path[:-1]
            # a list item has no key: its spot is where the item starts
            spot = doc.spot(path, key=bool(path) and isinstance(path[-1], str))
        else:
            text, hint = value_message(error)
            spot = doc.spot(path)
        found.append(problem(doc.file, spot, path, text, hint))
    return found
