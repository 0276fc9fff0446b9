"""Plain YAML scalars to Python values, by the YAML 1.2 core schema, plus dates.

YAML 1.2 reads `on`, `yes`, `off` and `no` as strings; only `true`/`false` (any of three
spellings each) are booleans. Dates are not part of the core schema, but YAML 1.1 tools read
`2024-01-31` as a date, so an unquoted date becomes a `Timestamp` that every schema rejects
with a "quote it" hint: the same file then means the same thing to every tool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT = re.compile(r"[-+]?[0-9]+")
_OCT = re.compile(r"0o[0-7]+")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?"
    r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?"
)

# Plain scalars a person most likely meant as a boolean; YAML 1.2 reads them as strings.
BOOLEAN_LOOKALIKES = frozenset({"y", "n", "yes", "no", "on", "off"})


@dataclass(frozen=True, slots=True)
class Timestamp:
    """An unquoted date or date-time; never valid in a settings file."""

    text: str

    def __str__(self) -> str:
        return self.text


Scalar = None | bool | int | float | str | Timestamp


def resolve_plain(text: str) -> Scalar:
    """The value of an unquoted scalar."""
    if text in _NULL:
        return None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    return _number(text) if text[0] in "+-.0123456789" else text


def _number(text: str) -> Scalar:
    if _INT.fullmatch(text):
        return int(text, 10)
    if _OCT.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return Timestamp(text) if _TIMESTAMP.fullmatch(text) else text
