"""A run's JSON report read without holding all of it.

An audit of a large account lists every finding (~200 MB of JSON at 5,000 users), and the
workflows need only its kind, summary and error. So the top-level keys are parsed a value at a
time, and the items of an audit's `findings` are parsed and dropped (its `summary` counts them):
no value held is over `held_limit` characters, and no more than `total_limit` are read in all (a
gzip of a few megabytes can inflate without end).
"""

from __future__ import annotations

import json
from typing import Any, TextIO

_DECODER = json.JSONDecoder()
_SPACE = " \t\n\r"
_CHUNK = 1 << 20
_MARGIN = 64  # a value ending this close to the window's end is parsed again with more


class TooBig(ValueError):
    """The text is over one of the limits; the message says which."""


class _Text:
    """The stream's text with a window on it: grown while a value does not end in it, dropped
    behind each value parsed."""

    def __init__(self, stream: TextIO, held_limit: int, total_limit: int) -> None:
        self.stream = stream
        self.held_limit = held_limit
        self.total_limit = total_limit
        self.buffer = ""
        self.pos = 0
        self.read = 0
        self.ended = False

    def _more(self) -> bool:
        """Read on (twice what is held, so a long value is parsed a few times, not once per
        chunk); False at the end of the stream."""
        held = len(self.buffer) - self.pos
        if held > self.held_limit:
            raise TooBig(f"holds a value over {self.held_limit} characters")
        if self.ended:
            return False
        chunk = self.stream.read(max(_CHUNK, held))
        self.read += len(chunk)
        if self.read > self.total_limit:
            raise TooBig(f"is over {self.total_limit} characters")
        if not chunk:
            self.ended = True
            return False  # the window as it was: a value just parsed in it still ends there
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0
        return True

    def char(self) -> str:
        """The next character but white space, taken ("" at the end)."""
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.buffer):
                self.pos += 1
                return self.buffer[self.pos - 1]
            if not self._more():
                return ""

    def peek(self) -> str:
        found = self.char()
        self.pos -= bool(found)
        return found

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                found, end = _DECODER.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError:
                if self._more():
                    continue
                raise
            if len(self.buffer) - end < _MARGIN and self._more():
                continue  # a number cut at the window's end ("12." of "12.5") parses short
            self.pos = end
            return found


def read_report(stream: TextIO, held_limit: int, total_limit: int) -> Any:
    """The document, with an audit's `findings` left empty; raises ValueError when it is not
    JSON and TooBig over a limit. A document that is not an object is parsed whole."""
    text = _Text(stream, held_limit, total_limit)
    if text.peek() != "{":
        found = text.value()
        if text.char():
            raise ValueError("more after the document")
        return found
    text.char()
    document: dict[str, Any] = {}
    separator = "}" if text.peek() == "}" else ","
    text.pos += separator == "}"  # an empty object's brace, taken
    while separator == ",":
        key = text.value()
        if not isinstance(key, str) or text.char() != ":":
            raise ValueError("not an object's key")
        if key == "findings" and document.get("kind") == "audit" and text.peek() == "[":
            document[key] = _dropped_items(text)
        else:
            document[key] = text.value()
        separator = text.char()
    if separator != "}" or text.char():
        raise ValueError("not one JSON object")
    return document


def _dropped_items(text: _Text) -> list[Any]:
    """Each item of the array parsed (so the document is checked) and let go."""
    text.char()
    if text.peek() == "]":
        text.char()
        return []
    while True:
        text.value()
        separator = text.char()
        if separator == "]":
            return []
        if separator != ",":
            raise ValueError("no comma between an array's items")
