"""Read one settings file: bytes to plain data, plus the line and column of every key and value.

The file is parsed to YAML events by ruamel.yaml and the tree is built here, so that nothing a
settings file must not contain can slip through: a second document, tags, anchors and aliases
(alias bombs never expand: the first alias is an error), duplicate keys (both lines named),
keys that are not plain strings, nesting deeper than `MAX_DEPTH`. Plain scalars are resolved by
`reconciler.desired.scalars` (YAML 1.2 core schema). Problems are collected; a syntax error ends
the file.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
    SequenceEndEvent,
)
from ruamel.yaml.reader import ReaderError

from reconciler.desired.problems import START, KeyPath, Spot, problem
from reconciler.desired.scalars import resolve_plain
from reconciler.errors import ConfigError

MAX_DEPTH = 32
# Positions come from the parser's event marks, which are the same in every ruamel.yaml mode; the
# safe parser skips round-trip comment bookkeeping and loads 10,050 files in 5.3 s instead of 6.8 s
# (benchmarks/load.py). Writing YAML back with comments kept is a job for round-trip mode.
_PARSER = YAML(typ="safe", pure=True)


@dataclass
class Document:
    """A file's data, and where each mapping key and each value starts."""

    file: str
    data: Any = None
    keys: dict[KeyPath, Spot] = field(default_factory=dict)
    values: dict[KeyPath, Spot] = field(default_factory=dict)

    def spot(self, path: KeyPath, *, key: bool = False) -> Spot:
        """Where `path` is written: its key (or value), else the nearest enclosing one."""
        while path:
            found = (self.keys if key else self.values).get(path) or self.keys.get(path)
            if found:
                return found
            path = path[:-1]
        return self.values.get((), START)


class _Stop(Exception):
    """The rest of the file cannot be read."""


def _spot(mark: Any) -> Spot:
    return Spot(mark.line + 1, mark.column + 1)


def _spot_at(text: str, index: int) -> Spot:
    before = text[:index]
    return Spot(before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1)


def decode(file: str, raw: bytes) -> str:
    """The file's text; not UTF-8 is an error at the first bad byte."""
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        start = raw.rfind(b"\n", 0, exc.start) + 1
        col = len(raw[start : exc.start].decode("utf-8", "replace")) + 1
        raise problem(
            file,
            Spot(line, col),
            (),
            f"not UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded",
            "save the file as UTF-8",
        ) from None


@dataclass
class _Frame:
    container: dict[str, Any] | list[Any]
    path: KeyPath
    key: str | None = None


class _Builder:
    """Turns a stream of YAML events into data and spots, collecting problems on the way."""

    def __init__(self, file: str) -> None:
        self.doc = Document(file)
        self.problems: list[ConfigError] = []
        self.stack: list[_Frame] = []
        self.documents = 0
        self.duplicates = 0

    def fail(self, spot: Spot, message: str, hint: str | None = None) -> None:
        path = self._path() if len(self.stack) < MAX_DEPTH else ()
        self.problems.append(problem(self.doc.file, spot, path, message, hint))

    def stop(self, spot: Spot, message: str, hint: str | None = None) -> NoReturn:
        """Record a problem after which the rest of the file cannot be read."""
        self.fail(spot, message, hint)
        raise _Stop

    def _path(self) -> KeyPath:
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.container, list):
            return (*top.path, len(top.container))
        return (*top.path, top.key) if top.key is not None else top.path

    def feed(self, event: Event) -> None:
        spot = _spot(event.start_mark)
        if isinstance(event, DocumentStartEvent):
            self._document(event, spot)
        elif isinstance(event, NodeEvent):
            self._node(event, spot)
        elif isinstance(event, MappingEndEvent | SequenceEndEvent):
            self.stack.pop()

    def _document(self, event: DocumentStartEvent, spot: Spot) -> None:
        self.documents += 1
        if self.documents > 1:
            self.stop(
                spot,
                "a second YAML document: a settings file holds exactly one",
                "remove the '---' line, or move the second document to a file of its own",
            )
        if event.tags:
            self.fail(spot, "%TAG directives are not allowed", "remove the directive")
        if event.version not in (None, (1, 2)):
            version = ".".join(str(part) for part in event.version)
            self.fail(spot, f"%YAML {version}: settings files are YAML 1.2", "remove the directive")

    def _node(self, event: NodeEvent, spot: Spot) -> None:
        self._check_decorations(event, spot)
        if isinstance(event, AliasEvent):
            self.stop(
                spot,
                f"alias *{event.anchor}: anchors and aliases are not allowed",
                "write the value out in full",
            )
        elif isinstance(event, ScalarEvent):
            value = resolve_plain(event.value) if event.style is None else event.value
            self._place(value, spot, event)
        elif isinstance(event, CollectionStartEvent):
            self._open(event, spot)

    def _check_decorations(self, event: NodeEvent, spot: Spot) -> None:
        if event.anchor is not None and not isinstance(event, AliasEvent):
            self.fail(
                spot,
                f"anchor &{event.anchor}: anchors and aliases are not allowed",
                "write the value out in full",
            )
        tag = getattr(event, "tag", None)
        if tag is not None:
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            self.fail(
                spot,
                f"tag {shown}: YAML tags are not allowed",
                "remove the tag; a value's type comes from how it is written",
            )

    def _open(self, event: CollectionStartEvent, spot: Spot) -> None:
        if len(self.stack) >= MAX_DEPTH:
            self.stop(spot, f"nested deeper than {MAX_DEPTH} levels")
        container: dict[str, Any] | list[Any] = {} if isinstance(event, MappingStartEvent) else []
        path = self._place(container, spot, event)
        self.stack.append(_Frame(container, path))

    def _place(self, value: Any, spot: Spot, event: NodeEvent) -> KeyPath:
        if not self.stack:
            self.doc.data = value
            self.doc.values[()] = spot
            return ()
        top = self.stack[-1]
        if isinstance(top.container, list):
            path = (*top.path, len(top.container))
            top.container.append(value)
        elif top.key is None:
            self._key(top, value, spot, event)
            return top.path
        else:
            path = (*top.path, top.key)
            top.container[top.key] = value
            top.key = None
            if _is_empty(event):  # `key:` and nothing after: point at the key, not the next line
                spot = self.doc.keys[path]
        self.doc.values[path] = spot
        return path

    def _key(self, top: _Frame, value: Any, spot: Spot, event: NodeEvent) -> None:
        if not isinstance(event, ScalarEvent):
            self.stop(spot, "a key must be a plain string, not a list or mapping")
        top.key = str(event.value)
        first = self.doc.keys.get(self._path())
        if first is not None:
            self.fail(
                spot,
                f"duplicate key (first at line {first.line})",
                "keep one of the two; YAML mappings have unique keys",
            )
            self.duplicates += 1
            top.key = f"\0duplicate {self.duplicates}"
        self.doc.keys[self._path()] = spot


def _is_empty(event: NodeEvent) -> bool:
    return isinstance(event, ScalarEvent) and event.style is None and event.value == ""


def _syntax_problem(file: str, text: str, exc: YAMLError) -> ConfigError:
    if isinstance(exc, ReaderError):
        spot = _spot_at(text, int(exc.position))
        return problem(
            file,
            spot,
            (),
            f"character U+{exc.character:04X} is not allowed in YAML",
            "remove it, or write it as an escape inside a double-quoted string",
        )
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    spot = _spot(mark) if mark is not None else START
    what = (getattr(exc, "problem", None) or str(exc)).strip()
    return problem(file, spot, (), f"YAML syntax error: {what}", _syntax_hint(what, exc, spot))


def _context(exc: YAMLError, spot: Spot) -> str | None:
    """Where the construct that could not be finished began, when that is elsewhere."""
    context, mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if not context or mark is None or _spot(mark) == spot:
        return None
    where = _spot(mark)
    return f"{context.strip()} that starts at line {where.line}, column {where.col}"


def _syntax_hint(what: str, exc: YAMLError, spot: Spot) -> str | None:
    if "'\\t'" in what:
        return "indent with spaces: YAML does not allow tabs for indentation"
    if "mapping values are not allowed" in what:
        return "quote a value that contains ': ', or fix the indentation"
    if "could not find expected ':'" in what:
        return "every line of a mapping is `key: value`; check the indentation"
    return _context(exc, spot)


def parse(file: str, text: str) -> tuple[Document, list[ConfigError]]:
    """The document and every problem found; data is None for a file without content."""
    builder = _Builder(file)
    events: Generator[Event, None, None] = _PARSER.parse(text)
    try:
        with closing(events):  # an early stop must still reset the shared parser
            for event in events:
                builder.feed(event)
    except _Stop:
        pass
    except YAMLError as exc:
        builder.problems.append(_syntax_problem(file, text, exc))
    return builder.doc, builder.problems


def read(file: str, raw: bytes) -> tuple[Document, list[ConfigError]]:
    """Decode and parse one file's bytes."""
    try:
        text = decode(file, raw)
    except ConfigError as exc:
        return Document(file), [exc]
    return parse(file, text)
