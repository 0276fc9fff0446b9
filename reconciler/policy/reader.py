"""Strict reading of a parsed YAML document: typed values or problems at file:line:col.

The rule-file loader walks the data with a `Reader`; each check returns the value, or None after
recording a problem where the key or value was written, so that one pass reports every problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

from reconciler.desired.messages import NULL_HINT as _NULL_HINT
from reconciler.desired.messages import describe
from reconciler.desired.problems import KeyPath, problem
from reconciler.desired.yamlfile import Document
from reconciler.errors import ConfigError


def closest(word: str, choices: Collection[str]) -> str | None:
    found = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


class Reader:
    """Checks over one document; every problem lands in `problems`."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[ConfigError] = []

    def fail(
        self, path: KeyPath, message: str, hint: str | None = None, *, key: bool = False
    ) -> None:
        # A list item has no key: its spot is where the item starts.
        spot = self.doc.spot(path, key=key and bool(path) and isinstance(path[-1], str))
        self.problems.append(problem(self.doc.file, spot, path, message, hint))

    def expected(self, path: KeyPath, what: str, value: Any) -> None:
        hint = _NULL_HINT if value is None else None
        self.fail(path, f"must be {what}, got {describe(value)}", hint)

    def mapping(self, path: KeyPath, value: Any) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        self.expected(path, "a mapping", value)
        return None

    def keys(
        self,
        path: KeyPath,
        data: Mapping[str, Any],
        allowed: Collection[str],
        required: Collection[str] = (),
    ) -> bool:
        """True when `data` has no unknown key and every required one."""
        good = True
        for name in data:
            if name not in allowed:
                self.fail((*path, name), "unknown key", _choice_hint(name, allowed), key=True)
                good = False
        for name in required:
            if name not in data:
                self.fail(path, f"missing the required key '{name}'", key=True)
                good = False
        return good

    def text(self, path: KeyPath, value: Any) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        self.expected(path, "a non-empty string", value)
        return None

    def choice(self, path: KeyPath, value: Any, choices: Collection[str]) -> str | None:
        if isinstance(value, str) and value in choices:
            return value
        close = closest(value, choices) if isinstance(value, str) else None
        hint = f"did you mean '{close}'?" if close else None
        self.fail(path, f"must be one of {', '.join(choices)}, got {describe(value)}", hint)
        return None

    def items(self, path: KeyPath, value: Any) -> list[Any] | None:
        if isinstance(value, list):
            return value
        self.expected(path, "a list", value)
        return None

    def texts(self, path: KeyPath, value: Any) -> tuple[str, ...] | None:
        found = self.items(path, value)
        if found is None:
            return None
        checked = [self.text((*path, index), item) for index, item in enumerate(found)]
        return tuple(item for item in checked if item is not None)

    def plain(self, path: KeyPath, value: Any) -> bool:
        """True when `value` is JSON data all the way down (no unquoted dates)."""
        if isinstance(value, dict | list):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            good = True
            for key, item in items:  # no short cut: every bad value is a problem of its own
                good = self.plain((*path, key), item) and good
            return good
        if value is None or isinstance(value, bool | int | float | str):
            return True
        self.fail(path, f"must be a plain value, got {describe(value)}", f"quote it: '{value}'")
        return False


def _choice_hint(word: str, choices: Collection[str]) -> str | None:
    close = closest(word, choices)
    if close:
        return f"did you mean '{close}'?"
    return "expected one of: " + ", ".join(choices) if 0 < len(choices) <= 8 else None
