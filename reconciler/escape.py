"""The one escaping function for text that came from outside (what users wrote in the repo, file
names, what Zoom answered) on its way to a terminal, a Markdown comment or a workflow command.

Control characters (newlines and NUL among them), and the Unicode format characters that reorder
or hide text (bidi overrides and isolates, zero-width joiners) are shown escaped, so nothing that
was written can start a new line, move the cursor, or make a name read differently than it is.
Values quoted back are cut to a short prefix.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

# How much of a value a message quotes back.
QUOTE_LIMIT = 60
ELLIPSIS = "…"


def _escaped(char: str) -> str:
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _hidden(char: str) -> bool:
    """Cc: control characters; Cf: format characters (bidi controls, zero-width ones)."""
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def printable(text: str, limit: int | None = None) -> str:
    """`text` safe to print: hidden characters escaped, cut to `limit` characters if given."""
    cut = limit is not None and len(text) > limit
    shown = text[:limit] if cut else text
    if any(_hidden(char) for char in shown):
        shown = "".join(_escaped(char) if _hidden(char) else char for char in shown)
    return shown + ELLIPSIS if cut else shown


def quoted(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A value as a message quotes it back: JSON for data, cut short, hidden characters escaped."""
    if isinstance(value, str):
        return f"'{printable(value, limit)}'"
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    return printable(text, limit)


def workflow_data(text: str) -> str:
    """The message part of a GitHub Actions workflow command (`::error ...::MESSAGE`), escaped
    as GitHub documents it; hidden characters first, so no newline survives to start a command."""
    shown = printable(text)
    return shown.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def workflow_property(text: str) -> str:
    """A property value of a workflow command (`file=...`): also `:` and `,` escaped."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


# An `@` GitHub would read as a mention (of a user, or an `@org/team`): not after a letter or digit,
# so the `@` of an email stays as written.
_MENTION = re.compile(r"(?<![A-Za-z0-9])@(?=[A-Za-z0-9])")
ZERO_WIDTH_JOINER = "\u200d"


def unmentioned(text: str) -> str:
    """`text` fit to post to GitHub: a zero-width joiner after each `@` that would mention someone
    (`@admin`, `@org/team` in a name from Zoom), so it reads the same and notifies no one."""
    return _MENTION.sub("@" + ZERO_WIDTH_JOINER, text)
