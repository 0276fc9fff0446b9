"""Settings documents as flat `{path: value}` maps; the shapes (leaf paths) of derived schemas.

A *leaf* is a schema node that is not an object with properties: a scalar, an array (replaced
whole) or a free-form object. A *container* is an object with properties. Zoom's settings
documents are containers all the way down to leaves, so a flat map keyed by leaf path round-trips.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from reconciler.schemas import Direction, zoom_lock_schema, zoom_settings_schema
from reconciler.vocab import Family, Level, LockFamily

Path = tuple[str, ...]
Flat = dict[Path, Any]
Schema = Mapping[str, Any]

_COMBINERS = ("allOf", "anyOf", "oneOf")


@dataclass(frozen=True)
class Shape:
    """The leaf paths of a schema, in schema order, with each leaf's own schema."""

    leaves: Mapping[Path, Schema]
    containers: frozenset[Path]

    def knows(self, path: Path) -> bool:
        return path in self.leaves or path in self.containers


def shape_of(schema: Schema) -> Shape:
    leaves: dict[Path, Schema] = {}
    containers: set[Path] = set()
    _walk(schema, schema, (), leaves, containers)
    return Shape(leaves, frozenset(containers))


def _resolve(node: Schema, root: Schema) -> Schema:
    while "$ref" in node:
        ref = str(node["$ref"])
        target: Any = root
        for part in ref.removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _properties(node: Schema, root: Schema) -> dict[str, Schema]:
    props: dict[str, Schema] = dict(node.get("properties") or {})
    for combiner in _COMBINERS:
        for branch in node.get(combiner) or ():
            for key, sub in _properties(_resolve(branch, root), root).items():
                props.setdefault(key, sub)
    return props


def _walk(
    node: Schema, root: Schema, path: Path, leaves: dict[Path, Schema], containers: set[Path]
) -> None:
    node = _resolve(node, root)
    props = _properties(node, root)
    if not props and path:
        leaves[path] = node
        return
    containers.add(path)
    for key, sub in props.items():
        _walk(sub, root, (*path, key), leaves, containers)


@cache
def settings_shape(level: Level, family: Family, direction: Direction = "get") -> Shape:
    return shape_of(zoom_settings_schema(level, family, direction))


@cache
def lock_shape(
    level: Literal["group", "account"], family: LockFamily, direction: Direction = "get"
) -> Shape:
    return shape_of(zoom_lock_schema(level, family, direction))


def flatten(doc: Mapping[str, Any], shape: Shape) -> tuple[Flat, list[Path]]:
    """Split a nested document into its known leaves and the paths the shape does not know."""
    flat: Flat = {}
    unknown: list[Path] = []
    _flatten_into(doc, shape, (), flat, unknown)
    return flat, unknown


def _flatten_into(
    doc: Mapping[str, Any], shape: Shape, path: Path, flat: Flat, unknown: list[Path]
) -> None:
    for key, value in doc.items():
        here = (*path, key)
        if here in shape.containers and isinstance(value, Mapping):
            _flatten_into(value, shape, here, flat, unknown)
        elif here in shape.leaves:
            flat[here] = value
        else:
            unknown.append(here)


def unflatten(flat: Mapping[Path, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for path, value in flat.items():
        node = doc
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return doc


def select_fields(doc: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """Zoom's `custom_query_fields`: keep keys named in `names` (whole) and the parents of them."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in names:
            out[key] = value
        elif isinstance(value, Mapping):
            inner = select_fields(value, names)
            if inner:
                out[key] = inner
    return out


def dotted(path: Iterable[str]) -> str:
    return ".".join(path)


def undotted(text: str) -> Path:
    return tuple(text.split("."))


def covered(path: Path, prefixes: frozenset[Path] | set[Path]) -> Path | None:
    """The first prefix of `path` (itself included) that is in `prefixes`, if any."""
    if not prefixes:
        return None
    for end in range(1, len(path) + 1):
        if path[:end] in prefixes:
            return path[:end]
    return None
