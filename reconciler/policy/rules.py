"""Rule packs: the typed models, and the strict loader that reports problems at file:line:col.

The format is docs/policy-format.md. Loading checks the keys (unknown ones get a "did you mean"),
the id pattern and duplicate ids (both lines named), severity, levels, profile, remedy shape and
examples, and compiles `expr` and `weakens` (a compile error, or a variable the expression may
not use, is reported at the line of its key). Every problem is collected; `load_pack` raises them
together as ValidationFailed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from reconciler.desired import yamlfile
from reconciler.desired.problems import KeyPath, sorted_problems
from reconciler.desired.repo import Entry, FileTree, Refused
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.policy.celexpr import (
    EXPR_VARIABLES,
    FAMILY_VARIABLES,
    LOCKED,
    WEAKENS_VARIABLES,
    ExprError,
    Reads,
    bare_locked,
    compile_expression,
    cost_problem,
    reads,
    unknown_variables,
)
from reconciler.policy.manual import BENCHMARK_ID_HINT, ManualItem, ManualLoader, benchmark_item
from reconciler.policy.reader import Reader, closest
from reconciler.vocab import LEVELS, Family, Level

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
ExampleKind = Literal["pass", "fail", "not_applicable"]
EXAMPLE_KINDS: tuple[ExampleKind, ...] = get_args(ExampleKind)

_PACK_REQUIRED = ("pack", "title", "rules")
_PACK_KEYS = (*_PACK_REQUIRED, "benchmark", "manual")
_RULE_REQUIRED = ("id", "title", "severity", "rationale", "levels", "expr")
_RULE_KEYS = (
    *_RULE_REQUIRED, "references", "profile", "remedy", "portal", "weakens", "examples",
)  # fmt: skip
_TARGET_KEYS = ("level", "id", "email", "name", "groups", "type")
_EXAMPLE_KEYS = ("target", *FAMILY_VARIABLES, LOCKED)
_REMEDY_KEYS = (*FAMILY_VARIABLES, "locks")
_ID = re.compile(r"[a-z0-9][a-z0-9.-]*")
# An optional key with a problem (None means absent, which is fine).
_BAD: Any = object()
# The biggest pack file read (the shipped CIS pack is under 100 KiB): one byte more is refused
# unread, like /dev/zero or a file that grows while being read.
MAX_PACK_BYTES = 512 * 1024
_TOO_BIG_HINT = "split it into two packs"
_ANY_LINK = "links are refused wherever they point"
_SIMPLER = "split it into simpler rules, or test fewer values"


@dataclass(frozen=True, eq=False)
class Example:
    """One example target of a rule: the outcome it must have, and where it is written."""

    kind: ExampleKind
    level: Level
    target: dict[str, Any]
    documents: dict[Family, dict[str, Any]]
    locked: dict[Family, dict[str, Any]]
    line: int
    col: int


@dataclass(frozen=True, eq=False)
class Rule:
    pack: str
    id: str
    title: str
    severity: Severity
    rationale: str
    levels: tuple[Level, ...]
    expr: str
    file: str
    line: int  # where the rule's `id` is written
    expr_line: int
    references: tuple[str, ...] = ()
    profile: int | None = None
    remedy: dict[str, Any] | None = None
    # Where an admin sets the remedy by hand, for the levels Zoom's API cannot set it at.
    portal: str | None = None
    weakens: str | None = None
    examples: tuple[Example, ...] = ()
    reads: Reads = field(default_factory=Reads)
    # The benchmark item it checks (`1.1.2.3` of `cis-1.1.2.3-user`), in a `benchmark:` pack.
    item: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """Unique among every pack: ids are unique within a pack."""
        return (self.pack, self.id)

    @property
    def code(self) -> str:
        """How reports, findings and hints name the rule: `pack/id`."""
        return f"{self.pack}/{self.id}"


@dataclass(frozen=True, eq=False)
class Pack:
    name: str
    title: str
    file: str
    rules: tuple[Rule, ...]
    benchmark: str | None = None  # the benchmark it follows item by item, by its title
    manual: tuple[ManualItem, ...] = ()  # the benchmark's items that no rule can check


def load_pack(path: Path, display: str | None = None, *, shipped: bool = False) -> Pack:
    """The pack in `path` (shown as `display` in problems); ValidationFailed on any problem.

    `shipped`: the tool's own packs, where every rule has a pass and a fail example.
    """
    file = display or str(path)
    raw = read_pack_file(FileTree(path.parent), path.name, file)
    return pack_of_bytes(file, raw, path.stem, shipped)


def read_pack_file(tree: FileTree, rel: str, file: str) -> bytes:
    """A pack's bytes, read like a repo file: a regular file (no link, pipe or device, nothing
    followed), at most MAX_PACK_BYTES; one ValidationFailed line at `file` otherwise."""
    try:
        entry = tree.entry(rel)
        if entry is not None and entry.kind != "file":
            raise _not_a_pack(entry, rel)
        return tree.read(rel, MAX_PACK_BYTES)
    except Refused as refused:
        # the reader's hint for a big file names max_file_bytes, which is for settings files
        hint = _TOO_BIG_HINT if "over the limit" in refused.message else refused.hint
        raise ValidationFailed([_whole_file(file, refused.message, hint)]) from None
    except OSError as exc:
        message = f"cannot read: {exc.strerror or exc}"
        raise ValidationFailed([ConfigError(message, file=file)]) from None


def _not_a_pack(entry: Entry, rel: str) -> Refused:
    if entry.rel != rel:  # a folder on the way is a link
        return Refused(
            f"{entry.rel}/ is {entry.what}: a policy pack is read from real folders",
            "replace the link with the folder itself; " + _ANY_LINK,
        )
    if entry.kind == "link":
        hint = "replace the link with the pack file itself; " + _ANY_LINK
    else:
        hint = "replace it with a regular .yaml file"
    return Refused(f"is {entry.what}: a policy pack must be a regular file", hint)


def _whole_file(file: str, message: str, hint: str | None) -> ConfigError:
    return ConfigError(message, file=file, line=1, col=1, hint=hint)


def pack_of_bytes(file: str, raw: bytes, expected_name: str | None, shipped: bool) -> Pack:
    """The pack in `raw`, or ValidationFailed with every problem."""
    pack, problems = parse_pack(file, raw, expected_name=expected_name, shipped=shipped)
    if problems or pack is None:
        raise ValidationFailed(sorted_problems(problems))
    return pack


def parse_pack(
    file: str, raw: bytes, *, expected_name: str | None = None, shipped: bool = False
) -> tuple[Pack | None, list[ConfigError]]:
    """The pack and every problem found (the pack is None when it cannot be read at all)."""
    doc, problems = yamlfile.read(file, raw)
    if problems:
        return None, problems
    reader = Reader(doc)
    pack = _PackLoader(reader, expected_name, shipped).pack()
    return (pack if not reader.problems else None), sorted_problems(reader.problems)


class _PackLoader:
    def __init__(self, reader: Reader, expected_name: str | None, shipped: bool) -> None:
        self.r = reader
        self.expected_name = expected_name
        self.shipped = shipped
        self.first_line: dict[str, int] = {}
        self.benchmark = False

    def pack(self) -> Pack | None:
        data = self.r.mapping((), self.r.doc.data)
        if data is None:
            return None
        self.r.keys((), data, _PACK_KEYS, _PACK_REQUIRED)
        name = self._name(data.get("pack"))
        title = self.r.text(("title",), data["title"]) if "title" in data else None
        benchmark = self.r.text(("benchmark",), data["benchmark"]) if "benchmark" in data else None
        self.benchmark = "benchmark" in data
        rules = self._rules(name or "", data.get("rules"))
        manual = self._manual(name or "", rules, data)
        if name is None or title is None:
            return None
        return Pack(name, title, self.r.doc.file, rules, benchmark, manual)

    def _manual(
        self, pack: str, rules: tuple[Rule, ...], data: dict[str, Any]
    ) -> tuple[ManualItem, ...]:
        if "manual" not in data:
            return ()
        items = {rule.item: (rule.id, rule.line) for rule in reversed(rules) if rule.item}
        loader = ManualLoader(
            self.r, pack, self.benchmark, self._checked_id, self._profile, self.first_line, items
        )
        return loader.items(data["manual"])

    def _name(self, value: Any) -> str | None:
        if value is None and "pack" not in (self.r.doc.data or {}):
            return None
        name = self.r.text(("pack",), value)
        if name is not None and self.expected_name is not None and name != self.expected_name:
            self.r.fail(
                ("pack",),
                f"the pack is named '{name}' but its file is {self.expected_name}.yaml",
                "the pack's name equals the file name without .yaml",
            )
        return name

    def _rules(self, pack: str, value: Any) -> tuple[Rule, ...]:
        if value is None and "rules" not in (self.r.doc.data or {}):
            return ()
        items = self.r.items(("rules",), value)
        if items is None:
            return ()
        if not items:
            self.r.fail(("rules",), "a pack has at least one rule")
        loaded = [self._rule(pack, ("rules", index), item) for index, item in enumerate(items)]
        return tuple(rule for rule in loaded if rule is not None)

    def _rule(self, pack: str, path: KeyPath, value: Any) -> Rule | None:
        data = self.r.mapping(path, value)
        if data is None:
            return None
        # past an unknown key the rest is still checked; past a missing one it cannot be
        known = self.r.keys(path, data, _RULE_KEYS, _RULE_REQUIRED)
        if any(name not in data for name in _RULE_REQUIRED):
            return None
        rule_id = self._id((*path, "id"), data["id"])
        levels = self._levels((*path, "levels"), data["levels"])
        expr = self._expr((*path, "expr"), data["expr"], EXPR_VARIABLES)
        weakens = self._weakens(path, data)
        fixed = self._fixed(path, data)
        examples = self._examples(path, data, levels or ())
        if not known or rule_id is None or levels is None or expr is None or fixed is None:
            return None
        return Rule(
            pack=pack,
            id=rule_id,
            levels=levels,
            expr=expr,
            file=self.r.doc.file,
            line=self.r.doc.spot((*path, "id"), key=True).line,
            expr_line=self.r.doc.spot((*path, "expr"), key=True).line,
            weakens=weakens,
            examples=examples or (),
            reads=reads(expr),
            item=benchmark_item(rule_id) if self.benchmark else None,
            **fixed,
        )

    def _fixed(self, path: KeyPath, data: dict[str, Any]) -> dict[str, Any] | None:
        """The rule's descriptive keys, checked; None when one of them has a problem."""
        fixed = {
            "title": self.r.text((*path, "title"), data["title"]),
            "severity": self.r.choice((*path, "severity"), data["severity"], SEVERITIES),
            "rationale": self.r.text((*path, "rationale"), data["rationale"]),
            "references": self._references(path, data),
            "profile": self._profile(path, data),
            "remedy": self._remedy(path, data),
            "portal": self.r.text((*path, "portal"), data["portal"]) if "portal" in data else None,
        }
        optional = ("profile", "remedy", "portal")
        for name, value in fixed.items():
            if value is _BAD or (value is None and name not in optional):
                return None
        return fixed

    def _checked_id(self, path: KeyPath, value: Any) -> str | None:
        """A rule's or a manual item's id: a string of the id pattern."""
        found = self.r.text(path, value)
        if found is None:
            return None
        if not _ID.fullmatch(found):
            self.r.fail(
                path,
                f"the id {found!r} is not of the form [a-z0-9][a-z0-9.-]*",
                "use lower-case letters, digits, '.' and '-'",
            )
            return None
        return found

    def _id(self, path: KeyPath, value: Any) -> str | None:
        rule_id = self._checked_id(path, value)
        if rule_id is None:
            return None
        line = self.r.doc.spot(path, key=True).line
        first = self.first_line.setdefault(rule_id, line)
        if first != line:
            self.r.fail(path, f"duplicate rule id {rule_id!r} (first at line {first})")
            return None
        if self.benchmark and benchmark_item(rule_id) is None:
            self.r.fail(
                path,
                f"the id {rule_id!r} names no benchmark item (the pack has `benchmark:`)",
                BENCHMARK_ID_HINT,
            )
            return None
        return rule_id

    def _levels(self, path: KeyPath, value: Any) -> tuple[Level, ...] | None:
        items = self.r.items(path, value)
        if items is None:
            return None
        if not items:
            self.r.fail(path, "a rule applies at one level at least", "e.g. [account, group, user]")
            return None
        levels = [self.r.choice((*path, index), item, LEVELS) for index, item in enumerate(items)]
        if any(level is None for level in levels):
            return None
        if len(set(levels)) != len(levels):
            self.r.fail(path, "a level is named twice")
            return None
        return tuple(level for level in LEVELS if level in levels)

    def _expr(self, path: KeyPath, value: Any, allowed: frozenset[str]) -> str | None:
        text = self.r.text(path, value)
        if text is None:
            return None
        costly = cost_problem(text)
        if costly is not None:
            self.r.fail(path, f"is refused unrun: it {costly}", _SIMPLER, key=True)
            return None
        try:
            program = compile_expression(text)
        except ExprError as exc:
            where = f" (column {exc.column} of the expression)" if exc.column else ""
            self.r.fail(path, f"does not compile: {exc.message}{where}", key=True)
            return None
        return text if self._variables_ok(path, text, program, allowed) else None

    def _variables_ok(
        self, path: KeyPath, text: str, program: Any, allowed: frozenset[str]
    ) -> bool:
        unknown = unknown_variables(program, text, allowed)
        for name in unknown:
            close = closest(name, allowed)
            hint = (
                f"did you mean '{close}'?"
                if close
                else "expected one of: " + ", ".join(sorted(allowed))
            )
            self.r.fail(path, f"unknown variable '{name}'", hint, key=True)
        if bare_locked(text):
            self.r.fail(
                path,
                "locked is read through a family: locked.<family variable>.<field>",
                "e.g. locked.meeting_security.waiting_room",
                key=True,
            )
            return False
        return not unknown

    def _weakens(self, path: KeyPath, data: dict[str, Any]) -> str | None:
        if "weakens" not in data:
            return None
        return self._expr((*path, "weakens"), data["weakens"], WEAKENS_VARIABLES)

    def _references(self, path: KeyPath, data: dict[str, Any]) -> tuple[str, ...] | None:
        if "references" not in data:
            return ()
        return self.r.texts((*path, "references"), data["references"])

    def _profile(self, path: KeyPath, data: dict[str, Any]) -> Any:
        value = data.get("profile")
        if "profile" not in data:
            return None
        if value in (1, 2) and not isinstance(value, bool):
            return int(value)
        self.r.expected((*path, "profile"), "1 or 2 (the CIS profile level)", value)
        return _BAD

    def _remedy(self, path: KeyPath, data: dict[str, Any]) -> Any:
        if "remedy" not in data:
            return None
        where = (*path, "remedy")
        remedy = self.r.mapping(where, data["remedy"])
        if remedy is None or not self.r.keys(where, remedy, _REMEDY_KEYS):
            return _BAD
        sections = [self.r.mapping((*where, key), value) for key, value in remedy.items()]
        if any(section is None for section in sections) or not self.r.plain(where, remedy):
            return _BAD
        return remedy

    def _examples(
        self, rule: KeyPath, data: dict[str, Any], levels: tuple[Level, ...]
    ) -> tuple[Example, ...] | None:
        path = (*rule, "examples")
        if "examples" not in data:
            if self.shipped:
                self.r.fail(rule, "a shipped rule has pass and fail examples")
            return None if self.shipped else ()
        examples = self.r.mapping(path, data["examples"])
        if examples is None:
            return None
        self.r.keys(path, examples, EXAMPLE_KINDS)
        for kind in ("pass", "fail"):
            if self.shipped and not examples.get(kind):
                self.r.fail(path, f"a shipped rule has at least one {kind} example", key=True)
        found: list[Example] = []
        for kind in EXAMPLE_KINDS:
            found += self._example_list((*path, kind), kind, examples.get(kind, []), levels)
        return tuple(found)

    def _example_list(
        self, path: KeyPath, kind: ExampleKind, value: Any, levels: tuple[Level, ...]
    ) -> list[Example]:
        items = self.r.items(path, value)
        examples = [
            _ExampleLoader(self.r, levels).example((*path, index), kind, item)
            for index, item in enumerate(items or [])
        ]
        return [example for example in examples if example is not None]


class _ExampleLoader:
    def __init__(self, reader: Reader, levels: tuple[Level, ...]) -> None:
        self.r = reader
        self.levels = levels

    def example(self, path: KeyPath, kind: ExampleKind, value: Any) -> Example | None:
        data = self.r.mapping(path, value)
        if data is None:
            return None
        known = self.r.keys(path, data, _EXAMPLE_KEYS)
        target = self._target((*path, "target"), data.get("target", {}))
        documents = self._documents(path, data)
        locked = self._locked((*path, LOCKED), data.get(LOCKED, {}))
        if not known or target is None or documents is None or locked is None:
            return None
        level = target.pop("level")
        spot = self.r.doc.spot(path)
        return Example(kind, level, target, documents, locked, spot.line, spot.col)

    def _target(self, path: KeyPath, value: Any) -> dict[str, Any] | None:
        data = self.r.mapping(path, value)
        if data is None or not self.r.keys(path, data, _TARGET_KEYS):
            return None
        target: dict[str, Any] = {"level": self._level(path, data)}
        for key in ("id", "email", "name", "type"):
            if key in data:
                target[key] = self.r.text((*path, key), data[key])
        if "groups" in data:
            target["groups"] = self.r.texts((*path, "groups"), data["groups"])
        return None if None in target.values() else target

    def _level(self, path: KeyPath, data: dict[str, Any]) -> Level | None:
        if not self.levels:
            return None  # the rule's own levels have a problem, reported already
        if "level" not in data:
            return self.levels[0]
        value = data["level"]
        if value in LEVELS and value not in self.levels:
            self.r.fail(
                (*path, "level"),
                f"the rule does not apply at {value} level",
                f"its levels: {', '.join(self.levels)}",
            )
            return None
        level = self.r.choice((*path, "level"), value, self.levels)
        return next((known for known in self.levels if known == level), None)

    def _documents(
        self, path: KeyPath, data: dict[str, Any]
    ) -> dict[Family, dict[str, Any]] | None:
        return self._families(path, {k: v for k, v in data.items() if k in FAMILY_VARIABLES})

    def _locked(self, path: KeyPath, value: Any) -> dict[Family, dict[str, Any]] | None:
        data = self.r.mapping(path, value)
        if data is None or not self.r.keys(path, data, tuple(FAMILY_VARIABLES)):
            return None
        return self._families(path, data)

    def _families(self, path: KeyPath, data: dict[str, Any]) -> dict[Family, dict[str, Any]] | None:
        found: dict[Family, dict[str, Any]] = {}
        good = True
        for key, value in data.items():
            document = self.r.mapping((*path, key), value)
            if document is None or not self.r.plain((*path, key), document):
                good = False
            else:
                found[FAMILY_VARIABLES[key]] = document
        return found if good else None
