"""CEL for rule expressions: compiling, and which settings fields an expression reads.

**The library** is `common-expression-language` 0.10 (import `cel`, Rust bindings): compile once
to a `cel.Program`, run it against a `cel.Context` of plain dicts, lists, bools, ints and
strings. Chosen over `cel-python` 0.5 (import `celpy`, pure Python) by `benchmarks/policy.py` on
this project's 2-core machine, over 5,000 sandbox users' effective settings, CPU per rule and
target: the baseline pack 2.2 µs with `cel` against 127 µs with `celpy`; baseline and CIS packs
(106 user rules) 1.8 µs against 132 µs; compiling 14-30 µs a rule against 1,100 µs or more.
Both implement the same language and gave the same outcomes; only `cel` is within the 10 µs
budget, and it ships type stubs. Its costs shape the engine: converting a map into CEL costs
about 1.3 µs, and a selection copies the map it passes through (`settings.in_meeting.chat` over
the whole document: 13.6 µs a rule), so the engine binds each field a rule reads as a variable
of its own (`rewrite`). One drawback: `import cel` also loads its command line (typer, rich,
prompt_toolkit, about 150 ms), so the `policy` package imports it only when a command needs it.

**Fields an expression reads** are found in its text, not by evaluating it: every dotted path
rooted at one of the four family variables (`settings`, `meeting_security`,
`meeting_authentication`, `recording_authentication`), or at `locked.<family variable>`, made of
`.name` steps and `["quoted name"]` steps (authentication options have names with spaces). The
path ends before anything else: a method call (`.exists(...)`: the path is what it is called on),
a computed index (`settings[x]`), an operator. String literals are skipped, and so are names after
a `.` that is not part of such a path. A path written directly inside `has(...)` is read but not
required: the rule asks whether the field is there. The analysis does not follow comprehension
variables (`settings.in_meeting.all(k, ...)` reads the whole `in_meeting` section, and requires
it), and a comprehension variable named like a family variable would shadow it unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import cel

from reconciler.vocab import Family, LeafPath

# The family variables of `expr`, as a settings file names them.
FAMILY_VARIABLES: dict[str, Family] = {
    "settings": "general",
    "meeting_security": "meeting_security",
    "meeting_authentication": "meeting_authentication",
    "recording_authentication": "recording_authentication",
}
VARIABLE_OF: dict[Family, str] = {family: name for name, family in FAMILY_VARIABLES.items()}
LOCKED = "locked"
TARGET = "target"
EXPR_VARIABLES: frozenset[str] = frozenset({*FAMILY_VARIABLES, LOCKED, TARGET})
# `lock`: true when the change is to the field's lock rather than to its value.
WEAKENS_VARIABLES: frozenset[str] = EXPR_VARIABLES | {"before", "after", "lock"}

Field = tuple[Family, LeafPath]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_QUOTED = r"\"(?:[^\"\\\n])*\"|'(?:[^'\\\n])*'"
_STRING = (
    r"[rRbB]{0,2}(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*')"
)
_STEP = rf"\s*(?:\.\s*{_IDENT}|\[\s*(?:{_QUOTED})\s*\])"
_TOKEN = re.compile(
    rf"(?P<string>{_STRING})|(?<![\w.])(?P<root>{_IDENT})(?P<steps>(?:{_STEP})*)(?P<call>\s*\()?"
)
_STEP_RE = re.compile(rf"\.\s*(?P<name>{_IDENT})|\[\s*(?P<quoted>{_QUOTED})\s*\]")
_HAS_BEFORE = re.compile(r"\bhas\s*\(\s*$")
# Comprehension macros bind their variables: `list.all(x, ...)`, `map.exists(k, v, ...)`.
_BOUND = re.compile(
    rf"\.\s*(?:all|exists|exists_one|existsOne|map|filter|transformList|transformMap)\s*\(\s*"
    rf"(?P<first>{_IDENT})\s*(?:,\s*(?P<second>{_IDENT})\s*)?,"
)


# An expression's cost is bounded before it runs (CEL evaluates in Rust, out of Python's reach
# once started): comprehensions multiply, so n elements nested three deep cost n**3 (a list of 300
# took 7.6 s); two deep over the longest list an expression can hold stays under a second.
# The shipped packs' longest expression has 200 characters.
MAX_EXPR_CHARS = 2_000
MAX_COMPREHENSION_DEPTH = 2
MAX_BRACKET_DEPTH = 32  # the parser recurses per level
_MACROS = "all|exists|exists_one|existsOne|map|filter|transformList|transformMap"
_BRACKET = re.compile(
    rf"(?P<macro>\.\s*(?:{_MACROS})\s*\()|(?P<open>[(\[{{])|(?P<close>[)\]}}])"
)


class ExprError(Exception):
    """An expression that does not compile; `column` (1-based) when CEL names one."""

    def __init__(self, message: str, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True, slots=True)
class Reads:
    """The fields an expression reads: of the documents, and of `locked`; `required` must exist
    in the target's documents for the rule to apply."""

    fields: frozenset[Field] = frozenset()
    locks: frozenset[Field] = frozenset()
    required: frozenset[Field] = frozenset()

    def __or__(self, other: Reads) -> Reads:
        return Reads(
            self.fields | other.fields, self.locks | other.locks, self.required | other.required
        )


_CEL_POSITION = re.compile(r"<input>:(?P<line>\d+):(?P<col>\d+): (?P<what>[^\n]*)")


@cache
def compile_expression(text: str) -> cel.Program:
    """The compiled program (once per text per process); ExprError when it does not compile."""
    try:
        return cel.compile(text)
    except (ValueError, RuntimeError) as exc:
        raise _expr_error(str(exc)) from None


def cost_problem(text: str) -> str | None:
    """Why `text` could cost too much to evaluate, judged from its text alone; None if it cannot."""
    if len(text) > MAX_EXPR_CHARS:
        return f"has {len(text):,} characters, over the {MAX_EXPR_CHARS:,} an expression may have"
    stack: list[bool] = []  # one per open bracket: whether it opens a comprehension
    deepest = comprehensions = 0
    for match in _BRACKET.finditer(_without_strings(text)):
        if match["close"]:
            if stack:
                stack.pop()
            continue
        stack.append(match["macro"] is not None)
        deepest = max(deepest, len(stack))
        comprehensions = max(comprehensions, sum(stack))
    if comprehensions > MAX_COMPREHENSION_DEPTH:
        return (
            f"nests comprehensions {comprehensions} deep (.all, .exists, .map, .filter inside "
            f"one another), over the {MAX_COMPREHENSION_DEPTH} an expression may nest"
        )
    if deepest > MAX_BRACKET_DEPTH:
        return f"nests brackets {deepest} deep, over the {MAX_BRACKET_DEPTH} an expression may"
    return None


def _expr_error(raw: str) -> ExprError:
    found = _CEL_POSITION.search(raw)
    if found is None:
        return ExprError(raw.splitlines()[0] if raw else "does not compile")
    # the parser's list of every token it could have taken is noise to a rule's author
    what = re.sub(r"\s*expecting \{[^}]*\}\s*$", "", found["what"]).strip()
    return ExprError(what, int(found["col"]))


def unknown_variables(program: cel.Program, text: str, allowed: frozenset[str]) -> list[str]:
    """Names the expression uses as variables that are neither allowed nor bound by a macro."""
    bound: set[str] = set()
    for match in _BOUND.finditer(_without_strings(text)):
        bound.update(name for name in match.group("first", "second") if name)
    return [name for name in program.variables() if name not in allowed | bound]


def _without_strings(text: str) -> str:
    return re.sub(_STRING, '""', text)


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One field path written in an expression: where (`start`, `end`), and how it is read."""

    start: int
    end: int
    field: Field
    lock: bool  # written as `locked.<family variable>...`
    in_has: bool  # written directly inside `has(...)`


def occurrences(text: str) -> list[Occurrence]:
    """Every field path in `text`, in order (see the module docstring)."""
    found = []
    for match in _TOKEN.finditer(text):
        occurrence = _occurrence(text, match)
        if occurrence is not None:
            found.append(occurrence)
    return found


def reads(text: str) -> Reads:
    """The fields `text` reads, found statically (see the module docstring)."""
    fields: set[Field] = set()
    locks: set[Field] = set()
    required: set[Field] = set()
    for occurrence in occurrences(text):
        (locks if occurrence.lock else fields).add(occurrence.field)
        if not occurrence.in_has:
            required.add(occurrence.field)
    return Reads(frozenset(fields), frozenset(locks), frozenset(required))


def bare_locked(text: str) -> bool:
    """True when `locked` is read other than through a family variable (`locked[x]`, `locked`)."""
    for match in _TOKEN.finditer(text):
        if match["root"] == LOCKED:
            steps = [step for step, _end in _steps(match["steps"] or "")]
            if not steps or steps[0] not in FAMILY_VARIABLES:
                return True
    return False


def rewrite(text: str, name_of: Callable[[Occurrence], str]) -> str:
    """`text` with each path outside `has(...)` replaced by the variable `name_of` gives it.

    A field path is a chain of selections, which bind tighter than anything else in CEL, so an
    identifier in its place means the same; the engine binds it to the field's value.
    """
    parts: list[str] = []
    done = 0
    for occurrence in occurrences(text):
        if occurrence.in_has:
            continue
        parts += [text[done : occurrence.start], name_of(occurrence)]
        done = occurrence.end
    return "".join([*parts, text[done:]])


def _occurrence(text: str, match: re.Match[str]) -> Occurrence | None:
    root = match["root"]
    if root is None or (root not in FAMILY_VARIABLES and root != LOCKED):
        return None
    steps = _steps(match["steps"] or "")
    if match["call"] is not None:
        if not steps:
            return None  # `settings(...)`: a function of that name, not the variable
        steps = steps[:-1]  # the last name is the method called on the path
    end = match.start("steps") + steps[-1][1] if steps else match.end("root")
    names = [step for step, _end in steps]
    in_has = _HAS_BEFORE.search(text, 0, match.start()) is not None
    if root != LOCKED:
        field: Field = (FAMILY_VARIABLES[root], tuple(names))
        return Occurrence(match.start(), end, field, False, in_has)
    if not names or names[0] not in FAMILY_VARIABLES:
        return None
    field = (FAMILY_VARIABLES[names[0]], tuple(names[1:]))
    return Occurrence(match.start(), end, field, True, in_has)


def _steps(text: str) -> list[tuple[str, int]]:
    """Each step's name and where it ends in `text`."""
    steps = []
    for step in _STEP_RE.finditer(text):
        steps.append((step["name"] if step["name"] else step["quoted"][1:-1], step.end()))
    return steps
