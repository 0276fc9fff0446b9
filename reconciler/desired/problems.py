"""One problem in the settings repo: where (file:line:col), which key, what is wrong, and a hint."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.errors import ConfigError
from reconciler.escape import printable

KeyPath = tuple[str | int, ...]
KEY_PATH_LIMIT = 120


@dataclass(frozen=True, slots=True, order=True)
class Spot:
    """A 1-based line and column in a file."""

    line: int
    col: int


START = Spot(1, 1)


def dotted(path: KeyPath) -> str:
    """`('settings', 'in_meeting', 'chat')` -> `settings.in_meeting.chat`; list items as `[i]`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def problem(
    file: str, spot: Spot, path: KeyPath, message: str, hint: str | None = None
) -> ConfigError:
    """A ConfigError rendered as `file:line:col: key.path: message (hint: ...)`."""
    # A key path is user-written: shown escaped and cut, like any value quoted back.
    text = f"{printable(dotted(path), KEY_PATH_LIMIT)}: {message}" if path else message
    return ConfigError(text, file=file, line=spot.line, col=spot.col, hint=hint)


def _order(error: ConfigError) -> tuple[str, int, int, str]:
    return (error.file or "", error.line or 0, error.col or 0, error.message)


def sorted_problems(problems: Iterable[ConfigError]) -> list[ConfigError]:
    """By file, line and column: the order a reader walks through them."""
    return sorted(problems, key=_order)
