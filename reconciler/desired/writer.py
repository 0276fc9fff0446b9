"""Write settings files: new ones from plain data, and edits to existing ones that keep the rest.

`reconciler export` writes the live account as settings files and updates files that exist. An
updated file must still read like the one a person wrote: comments, blank lines, key order,
quoting and indentation stay, and only the lines of changed values change, so `git diff` shows the
change and nothing else.

ruamel.yaml's round-trip mode reads the file: its node tree gives the exact place of every key
and value. Its dumper is not used for updates, because dumping a loaded file rewrites lines that
no edit touched (`True` becomes `true`, `x:   5` becomes `x: 5`, `~` disappears, flow mappings
are respaced) and a key appended to a mapping lands after the comment that introduces the next
section. Instead the text is spliced: an edit replaces the characters of the old value, inserts
whole lines after its mapping's last line, or removes a key's lines; all else is copied as is.

New YAML (a new file, a new key, a new value) comes from one small renderer whose quoting follows
this project's reader (`reconciler.desired.scalars`: YAML 1.2 core, plus dates), so it means the
same to every YAML tool. Every result is read back with the strict loader and compared with the
data it should hold before it is returned: a bug here fails loudly, never writes a wrong file.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

from reconciler.desired import yamlfile
from reconciler.desired.problems import sorted_problems
from reconciler.desired.scalars import BOOLEAN_LOOKALIKES, Timestamp, resolve_plain
from reconciler.diff import MISSING, lookup, strictly_equal
from reconciler.errors import ValidationFailed
from reconciler.escape import printable

Path = tuple[str, ...]


class _Delete:
    _instance: _Delete | None = None

    def __new__(cls) -> _Delete:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DELETE"


DELETE: Final[Any] = _Delete()
"""The value of an `Edit` that removes its key."""


@dataclass(frozen=True)
class Edit:
    """Set the value at `path` (a scalar or a list, replaced whole), or remove it: `DELETE`."""

    path: Path
    value: Any


@dataclass(frozen=True)
class FileChange:
    """One value an update changed; `before` or `after` is `MISSING` for a key added or removed."""

    path: Path
    before: Any
    after: Any


def schema_header(schema: str) -> str:
    """The first line of a settings file: where editors find its JSON Schema."""
    return f"# yaml-language-server: $schema={schema}"


# --- Rendering: plain data to YAML text -------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    indent: int = 2  # a nested mapping's keys, right of their parent key
    sequence: int = 2  # a list's dashes, right of their key (0 writes `key:\n- item`)
    # How far the comment and blank lines after the new text are indented: a literal block
    # indented no deeper would take them in as its own lines.
    after: int = -1


_SCALAR_TYPES = (type(None), bool, int, float, str, Timestamp)
# Written escaped even where YAML allows them raw: readers disagree on whether they break lines.
_NEVER_RAW = frozenset("\x85\u2028\u2029\ufeff")
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\0": "\\0",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}
# A plain scalar starting with one of these is an indicator, a number or a YAML 1.1 oddity
# (`<<` merge, `=` value); anywhere, these can end a plain scalar in block or flow context.
_NOT_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@`<=+.0123456789")
_NOT_IN_PLAIN = frozenset(":#,[]{}")
# YAML reads an implicit key of more than 1024 characters as an error.
_KEY_LIMIT = 1024


def _raw(char: str) -> bool:
    """Printable in YAML (tab and line breaks aside), and safe to write unescaped."""
    code = ord(char)
    return char not in _NEVER_RAW and (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or code >= 0x10000
    )


def _double(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif _raw(char):
            out.append(char)
        else:
            code = ord(char)
            out.append(
                f"\\x{code:02x}"
                if code <= 0xFF
                else f"\\u{code:04x}"
                if code <= 0xFFFF
                else f"\\U{code:08x}"
            )
    return '"' + "".join(out) + '"'


def _single(text: str) -> str | None:
    if not all(_raw(char) or char == "\t" for char in text):
        return None  # a single-quoted scalar has no escapes, and folds line breaks
    return "'" + text.replace("'", "''") + "'"


def _plain(text: str) -> bool:
    """Whether `text` can be written unquoted and read back as the same string by any reader."""
    return (
        text != ""
        and text[0] not in _NOT_FIRST
        and text == text.strip()
        and all(_raw(char) and char not in _NOT_IN_PLAIN for char in text)
        # YAML 1.1 reads `yes`, `off`, `y` as booleans; quoted, the file means one thing to all.
        and text.lower() not in BOOLEAN_LOOKALIKES
        and resolve_plain(text) == text
    )


def _scalar(value: Any, quote: str | None = None) -> str:
    """A scalar on one line; `quote` is the quoting a changed string keeps (`"` or `'`)."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)  # the shortest text that reads back as the same float
    if kind is Timestamp:
        if resolve_plain(value.text) != value:
            raise ValueError(f"not a YAML date: {value.text!r}")
        return str(value.text)
    if kind is str:
        if quote == "'":
            return _single(value) or _double(value)
        if quote != '"' and _plain(value):
            return str(value)
        return _double(value)
    raise TypeError(f"cannot write a {kind.__name__} to a settings file: {value!r}")


def _key(key: Any) -> str:
    if type(key) is not str:
        raise TypeError(f"a settings file's keys are strings, not {type(key).__name__}: {key!r}")
    text = key if _plain(key) else _double(key)
    if len(text) > _KEY_LIMIT:
        raise ValueError(f"a key longer than YAML allows ({_KEY_LIMIT} characters): {key[:40]!r}…")
    return text


def _literal(text: str) -> tuple[str, list[str]] | None:
    """`|` or `|-` and the lines of a multi-line string, when a literal block holds it exactly."""
    if "\n" not in text or text[0] in " \t\n" or text.endswith("\n\n"):
        return None  # an indented first line needs an indentation indicator; keep it simple
    header, body = ("|", text[:-1]) if text.endswith("\n") else ("|-", text)
    lines = body.split("\n")
    for line in lines:
        if line != line.rstrip(" \t") or not all(_raw(char) or char == "\t" for char in line):
            return None  # trailing blanks are invisible, and there are no escapes in a block
    return header, lines


def _flow(value: Any, quote: str | None = None) -> str:
    kind = type(value)
    if kind is dict:
        return "{" + ", ".join(f"{_key(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if kind is list:
        return "[" + ", ".join(_flow(item) for item in value) + "]"
    return _scalar(value, quote)


def _tail(value: Any, col: int, style: _Style, quote: str | None = None) -> tuple[str, list[str]]:
    """What follows `key:` for a key at column `col`: text on the key's line, then whole lines."""
    kind = type(value)
    if kind is dict and value:
        return "", _mapping_lines(value, col + style.indent, style)
    if kind is list and value:
        return "", _item_lines(value, col + style.sequence, style)
    if (
        kind is str
        and quote is None
        and col + style.indent > style.after
        and (block := _literal(value))
    ):
        header, lines = block
        pad = " " * (col + style.indent)
        return " " + header, [pad + line if line else "" for line in lines]
    return " " + _flow(value, quote), []


def _mapping_lines(mapping: dict[str, Any], col: int, style: _Style) -> list[str]:
    lines = []
    for key, value in mapping.items():
        head, rest = _tail(value, col, style)
        lines.append(f"{' ' * col}{_key(key)}:{head}")
        lines += rest
    return lines


def _item_lines(items: list[Any], col: int, style: _Style) -> list[str]:
    lines = []
    for item in items:
        if type(item) in (dict, list) and item:
            inner = (
                _mapping_lines(item, col + 2, style)
                if type(item) is dict
                else _item_lines(item, col + 2, style)
            )
            lines.append(f"{' ' * col}- {inner[0][col + 2 :]}")
            lines += inner[1:]
        else:
            head, rest = _tail(item, col, style)
            lines.append(f"{' ' * col}-{head}")
            lines += rest
    return lines


def _check_value(value: Any) -> None:
    """Refuse what no settings file holds before any text is written."""
    if type(value) is dict:
        for key, item in value.items():
            _key(key)
            _check_value(item)
    elif type(value) is list:
        for item in value:
            _check_value(item)
    elif type(value) not in _SCALAR_TYPES:
        raise TypeError(f"cannot write a {type(value).__name__} to a settings file: {value!r}")


def _same(left: Any, right: Any) -> bool:
    """Strictly equal, key order included, NaN equal to itself: what a read-back must give."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(v, right[k]) for k, v in left.items())
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


def _read_back(text: str, expected: Any) -> None:
    doc, problems = yamlfile.parse("<written>", text)
    if problems or not _same(doc.data, expected):
        what = problems[0] if problems else "other data"
        raise RuntimeError(f"the YAML written does not read back as the data it was given: {what}")


def render_new(header: str, document: dict[str, Any]) -> str:
    """A new settings file: `header` (comment lines, e.g. `schema_header(...)`), then `document`
    in block style, keys in the order given."""
    if type(document) is not dict:
        raise TypeError(f"a settings file holds a mapping, not {type(document).__name__}")
    comments = header.splitlines()
    if any(not line.startswith("#") for line in comments):
        raise ValueError(f"the header must be comment lines: {header!r}")
    _check_value(document)
    body = _mapping_lines(document, 0, _Style()) if document else ["{}"]
    text = "\n".join([*comments, *body]) + "\n"
    _read_back(text, document)
    return text


# --- Updating: splices into the existing text --------------------------------------------------


@dataclass(frozen=True)
class _Pair:
    key: ScalarNode
    value: Any  # a ruamel node
    parent: Path


@dataclass(frozen=True)
class _Splice:
    start: int
    end: int
    text: str
    # Among insertions at one point, the deeper one comes first: it ends what comes before.
    depth: float


@dataclass
class _Tree:
    """The file's nodes by key path: every mapping and key reached through mappings."""

    text: str
    root: Any
    mappings: dict[Path, MappingNode] = field(default_factory=dict)
    pairs: dict[Path, _Pair] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.root, MappingNode):
            self._walk(self.root, ())
        self.newline = "\r\n" if "\r\n" in self.text else "\n"
        self.style = self._style()

    def _walk(self, node: MappingNode, path: Path) -> None:
        self.mappings[path] = node
        for key, value in node.value:
            here = (*path, str(key.value))
            self.pairs[here] = _Pair(key, value, path)
            if isinstance(value, MappingNode):
                self._walk(value, here)

    def _style(self) -> _Style:
        """The indentation the file already uses, so new lines look like their neighbours."""
        indent = sequence = None
        for pair in self.pairs.values():
            node, col = pair.value, self.mappings[pair.parent].start_mark.column
            if node.value and not getattr(node, "flow_style", True):
                if indent is None and isinstance(node, MappingNode):
                    indent = node.start_mark.column - col
                if sequence is None and isinstance(node, SequenceNode):
                    sequence = node.start_mark.column - col
        return _Style(
            indent if indent is not None and indent > 0 else 2,
            sequence if sequence is not None and sequence >= 0 else 2,
        )

    # Places in the text.

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def next_line(self, index: int) -> int:
        found = self.text.find("\n", index)
        return len(self.text) if found < 0 else found + 1

    def colon(self, key: ScalarNode) -> int:
        index = int(key.end_mark.index)
        while index < len(self.text) and self.text[index] in " \t":
            index += 1
        if index >= len(self.text) or self.text[index] != ":":
            raise ValueError(
                f"line {key.start_mark.line + 1}: a key layout this writer cannot edit"
            )
        return index

    def end(self, node: Any) -> int:
        """Where a node's own text ends: not the blank lines or comments that follow it."""
        if isinstance(node, ScalarNode):
            if node.style not in ("|", ">"):
                return int(node.end_mark.index)
            # A block scalar's end mark is past its line breaks; its last line ends the text.
            start = node.start_mark.index
            index = start + len(self.text[start : node.end_mark.index].rstrip())
            while index < len(self.text) and self.text[index] in " \t":
                index += 1
            return int(index)
        if node.flow_style or not node.value:
            return int(node.end_mark.index)
        if isinstance(node, MappingNode):
            key, value = node.value[-1]
            return self.pair_end(key, value)
        return self.end(node.value[-1])

    def pair_end(self, key: ScalarNode, value: Any) -> int:
        # `key:` with nothing after: the empty scalar's mark is at the next token, wherever it is.
        return self.colon(key) + 1 if _is_empty(value) else self.end(value)

    def indent_after(self, index: int) -> int:
        """The deepest indentation of the comment and blank lines from `index` on."""
        deepest = -1
        for line in self.text[index:].split("\n"):
            content = line.lstrip(" \t")
            if content.strip() and not content.startswith("#"):
                break
            deepest = max(deepest, len(line) - len(content) if content.strip() else len(line))
        return deepest

    def lines_after(self, index: int, lines: list[str], depth: float) -> _Splice:
        """Whole lines inserted after the line holding `index`."""
        at = self.next_line(index)
        newline = self.newline
        text = "".join(line + newline for line in lines)
        if at == len(self.text) and not self.text.endswith("\n"):
            text = newline + text
        return _Splice(at, at, text, depth)


def _is_empty(node: Any) -> bool:
    return isinstance(node, ScalarNode) and node.style is None and node.value == ""


def _is_null(node: Any) -> bool:
    return isinstance(node, ScalarNode) and node.style is None and resolve_plain(node.value) is None


def _dotted(path: Path) -> str:
    return printable(".".join(path))


def _check_edits(edits: Iterable[Edit]) -> None:
    paths: set[Path] = set()
    for edit in edits:
        if not edit.path or any(type(key) is not str for key in edit.path):
            raise ValueError(f"an edit's path is one or more string keys: {edit.path!r}")
        if edit.path in paths:
            raise ValueError(f"two edits of {_dotted(edit.path)}")
        paths.add(edit.path)
        if edit.value is not DELETE:
            _check_value(edit.value)
    for path in paths:
        for size in range(1, len(path)):
            if path[:size] in paths:
                raise ValueError(f"edits of both {_dotted(path[:size])} and {_dotted(path)}")


class _Update:
    """The splices that one list of edits makes to one file."""

    def __init__(self, tree: _Tree) -> None:
        self.tree = tree
        self.replaced: dict[Path, Any] = {}
        self.deleted: list[Path] = []
        self.added: dict[Path, dict[str, Any]] = {}  # by the mapping the keys go to
        self.filled: dict[Path, dict[str, Any]] = {}  # by the `key: null` that becomes a mapping

    def anchor(self, path: Path) -> tuple[dict[Path, dict[str, Any]], Path]:
        """Where a missing key goes: under an existing mapping, or into a null value."""
        tree = self.tree
        if tree.root is None or _is_empty(tree.root):
            return self.added, ()
        if not isinstance(tree.root, MappingNode):
            raise ValueError("the file's top level is not a mapping")
        for size in range(1, len(path) + 1):
            pair = tree.pairs.get(path[:size])
            if pair is None:
                return self.added, path[: size - 1]
            if _is_null(pair.value):
                return self.filled, path[:size]
            if not isinstance(pair.value, MappingNode):
                raise ValueError(
                    f"{_dotted(path[:size])} is not a mapping: cannot set {_dotted(path)}"
                )
        raise AssertionError("a missing key that exists")  # pragma: no cover

    def add(self, path: Path, value: Any) -> None:
        table, at = self.anchor(path)
        node = table.setdefault(at, {})
        for key in path[len(at) : -1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    def splices(self) -> list[_Splice]:
        out: list[_Splice] = []
        gone = self._gone()
        for parent in {path[:-1] for path in gone}:
            out += self._deletions(parent, {path[-1] for path in gone if path[:-1] == parent})
        for path, value in [*self.replaced.items(), *self.filled.items()]:
            out += self._replace(path, value)
        for path, mapping in self.added.items():
            out += self._append(path, mapping, gone)
        return out

    def _gone(self) -> set[Path]:
        """The keys to remove: those deleted, and each mapping that deleting leaves empty."""
        gone = set(self.deleted)
        grew = True
        while grew:
            grew = False
            for parent in {path[:-1] for path in gone}:
                if not parent or parent in gone or parent in self.added:
                    continue
                keys = [(*parent, str(key.value)) for key, _ in self.tree.mappings[parent].value]
                if all(key in gone for key in keys):
                    gone.add(parent)
                    grew = True
        return {p for p in gone if not any(p[:size] in gone for size in range(1, len(p)))}

    def _deletions(self, parent: Path, keys: set[str]) -> list[_Splice]:
        tree = self.tree
        mapping = tree.mappings[parent]
        items = mapping.value
        depth = len(parent) + 1
        if not mapping.flow_style:
            out = []
            for key, value in items:
                if str(key.value) in keys:
                    start = tree.line_start(key.start_mark.index)
                    if tree.text[start : key.start_mark.index].strip():
                        raise ValueError(
                            f"line {key.start_mark.line + 1}: a key not on a line of its own"
                        )
                    end = tree.next_line(tree.pair_end(key, value))
                    if not tree.text[end:].strip():  # the file's last key: no blank lines left
                        start = len(tree.text[:start].rstrip(" \t\r\n"))
                        start = tree.next_line(start) if start else 0
                    out.append(_Splice(start, end, "", depth))
            if not parent and len(out) == len(items) and () not in self.added:  # stays a mapping
                first = min(splice.start for splice in out)
                out.append(_Splice(first, first, "{}" + tree.newline, depth))
            return out
        # In `{a: 1, b: 2}`, a run of removed items takes the separator after it, or before it
        # when it is last.
        removed = [str(key.value) in keys for key, _ in items]
        out, index = [], 0
        while index < len(items):
            if not removed[index]:
                index += 1
                continue
            stop = index
            while stop < len(items) and removed[stop]:
                stop += 1
            if stop < len(items):
                span = (items[index][0].start_mark.index, items[stop][0].start_mark.index)
            elif index > 0:
                span = (tree.pair_end(*items[index - 1]), tree.pair_end(*items[-1]))
            else:
                span = (items[0][0].start_mark.index, tree.pair_end(*items[-1]))
            out.append(_Splice(*span, "", depth))
            index = stop
        return out

    def _replace(self, path: Path, value: Any) -> list[_Splice]:
        tree = self.tree
        pair = tree.pairs[path]
        old, depth = pair.value, len(path)
        quote = None
        if type(value) is str and isinstance(old, ScalarNode) and old.style in ('"', "'"):
            quote = old.style  # a quoted string stays quoted the same way
        if tree.mappings[pair.parent].flow_style:
            if _is_empty(old):
                at = tree.colon(pair.key) + 1
                return [_Splice(at, at, " " + _flow(value, quote), depth)]
            return [_Splice(old.start_mark.index, tree.end(old), _flow(value, quote), depth)]
        col = tree.mappings[pair.parent].start_mark.column  # where its keys start: `? ` aside
        colon = tree.colon(pair.key)
        follows = tree.next_line(colon if _is_empty(old) else tree.end(old))
        style = replace(tree.style, after=tree.indent_after(follows))
        if isinstance(old, SequenceNode) and not old.flow_style:
            style = replace(style, sequence=old.start_mark.column - col)  # as it was written
        lines: list[str] = []
        if getattr(old, "flow_style", False) and type(value) in (list, dict):
            head = " " + _flow(value)  # `[a, b]` stays on its line
        else:
            head, lines = _tail(value, col, style, quote)
        if _is_empty(old):
            out = [_Splice(colon + 1, colon + 1, head, depth)]
            return [*out, tree.lines_after(colon, lines, depth)] if lines else out
        start, end = old.start_mark.index, tree.end(old)
        if tree.line_start(start) > colon:
            # A block list or mapping below its key: its lines go, the new value takes their place
            # (the key's line, with any comment on it, stays).
            body = "".join(line + tree.newline for line in lines)
            out = [_Splice(tree.line_start(start), tree.next_line(end), body, depth)]
            return [_Splice(colon + 1, colon + 1, head, depth), *out] if head else out
        # A value on the key's line: exactly its characters change, a comment after it stays.
        out = [
            _Splice(start, end, head.lstrip(" "), depth)
            if head
            else _Splice(colon + 1, end, "", depth)
        ]
        return [*out, tree.lines_after(end, lines, depth)] if lines else out

    def _append(self, path: Path, mapping: dict[str, Any], gone: set[Path]) -> list[_Splice]:
        tree = self.tree
        depth = len(path) + 0.5  # after the mapping's last value, before what follows it
        node = tree.mappings.get(path)
        if node is None:  # no document yet: the keys are the document
            lines = _mapping_lines(mapping, 0, replace(tree.style, after=-1))
            return [tree.lines_after(len(tree.text), lines, depth)]
        items = node.value
        if node.flow_style:
            text = ", ".join(f"{_key(k)}: {_flow(v)}" for k, v in mapping.items())
            if any((*path, str(key.value)) not in gone for key, _ in items):
                at = tree.pair_end(*items[-1])
                return [_Splice(at, at, ", " + text, depth)]
            at = node.end_mark.index - 1  # the closing brace
            return [_Splice(at, at, text, depth)]
        end = tree.pair_end(*items[-1])
        style = replace(tree.style, after=tree.indent_after(tree.next_line(end)))
        return [
            tree.lines_after(end, _mapping_lines(mapping, node.start_mark.column, style), depth)
        ]


def _apply(text: str, splices: list[_Splice]) -> str:
    out, cursor = [], 0
    for splice in sorted(splices, key=lambda s: (s.start, s.end > s.start, -s.depth)):
        if splice.start < cursor:
            raise RuntimeError("two edits of one place in the file")  # a bug in this module
        out += [text[cursor : splice.start], splice.text]
        cursor = splice.end
    out.append(text[cursor:])
    return "".join(out)


def _expected(data: Any, changes: list[FileChange]) -> dict[str, Any]:
    """The data the updated file must hold: the same edits made to the data read."""
    result: dict[str, Any] = copy.deepcopy(data) if isinstance(data, dict) else {}
    for change in changes:
        node = result
        for key in change.path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}  # a missing key, or `key: null` becoming a mapping
            node = node[key]
        if change.after is MISSING:
            del node[change.path[-1]]
        else:
            node[change.path[-1]] = copy.deepcopy(change.after)
    for change in changes:  # a mapping that deleting left empty goes too
        if change.after is MISSING:
            for size in range(len(change.path) - 1, 0, -1):
                parent = lookup(result, change.path[:size])
                if parent != {}:
                    break
                del lookup(result, change.path[: size - 1])[change.path[size - 1]]
    return result


def update_text(
    text: str, edits: list[Edit], *, add_missing: bool = True, file: str = "<text>"
) -> tuple[str, list[FileChange]]:
    """`text` with `edits` made, and the changes actually made, in the order of the edits.

    A value already equal (strictly: `true` is not `1`) is left as written. A missing key is added
    at the end of its parent mapping, which is created if needed, unless `add_missing` is false
    (then it is skipped, and not reported). A deleted key goes with its lines, and so does a
    mapping left empty. Text no edit touches comes back byte for byte. Raises ValidationFailed
    when `text` is not a settings file the loader reads (`file` names it), ValueError for edits
    that contradict the file's structure (a key under a list or a string).
    """
    _check_edits(edits)
    doc, problems = yamlfile.parse(file, text)
    if problems:
        raise ValidationFailed(sorted_problems(problems))
    update = _Update(_Tree(text, YAML(typ="rt", pure=True).compose(text)))
    changes: list[FileChange] = []
    for edit in edits:
        before = lookup(doc.data, edit.path)
        if edit.value is DELETE:
            if before is not MISSING:
                update.deleted.append(edit.path)
                changes.append(FileChange(edit.path, before, MISSING))
        elif before is not MISSING:
            if not strictly_equal(before, edit.value):
                update.replaced[edit.path] = edit.value
                changes.append(FileChange(edit.path, before, edit.value))
        else:
            update.anchor(edit.path)  # a key under a string or a list is an error either way
            if add_missing:
                update.add(edit.path, edit.value)
                changes.append(FileChange(edit.path, MISSING, edit.value))
    if not changes:
        return text, []
    new = _apply(text, update.splices())
    _read_back(new, _expected(doc.data, changes))
    return new, changes


# --- Reporting ---------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    return printable(json.dumps(value, ensure_ascii=False, default=str))


def summary_lines(file: str, changes: list[FileChange]) -> list[str]:
    """`file`, then one line per change (`~` changed, `+` added, `-` removed); none if none."""
    if not changes:
        return []
    lines = [printable(file)]
    for change in changes:
        where = _dotted(change.path)
        if change.before is MISSING:
            lines.append(f"  + {where}: {_shown(change.after)}")
        elif change.after is MISSING:
            lines.append(f"  - {where} (was {_shown(change.before)})")
        else:
            lines.append(f"  ~ {where}: {_shown(change.before)} -> {_shown(change.after)}")
    return lines
