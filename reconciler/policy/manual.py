"""A pack's benchmark items that no API can check: its `manual:` list, and the item number that
each rule and manual item of a benchmark pack stands for.

A pack that says `benchmark: TITLE` follows one benchmark item by item: every id is
`PREFIX-ITEM` or `PREFIX-ITEM-LEVEL` (`cis-1.1.2.3`, `cis-1.1.2.3-user`: one item checked by two
rules because Zoom names the field differently at the user level), so a report can show one row
per item. A manual item says what an admin checks by hand, and where; it is never evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.desired.problems import KeyPath
from reconciler.policy.reader import Reader

# PREFIX-ITEM or PREFIX-ITEM-LEVEL, ITEM a dotted number.
_BENCHMARK_ID = re.compile(r"[a-z][a-z0-9]*-(?P<item>\d+(?:\.\d+)*)(?:-(?:account|group|user))?")
BENCHMARK_ID_HINT = "e.g. cis-1.1.2.3, or cis-1.1.2.3-user where one item needs a rule per level"
_REQUIRED = ("id", "title", "check")
_KEYS = (*_REQUIRED, "profile")


@dataclass(frozen=True, eq=False)
class ManualItem:
    """One item an admin checks by hand: `check` says what to look at and where."""

    pack: str
    id: str
    item: str  # the benchmark item's number; the id itself in a pack that is no benchmark
    title: str
    check: str
    file: str
    line: int  # where the item's `id` is written
    profile: int | None = None

    @property
    def code(self) -> str:
        return f"{self.pack}/{self.id}"


def benchmark_item(rule_id: str) -> str | None:
    """`1.1.2.3` of `cis-1.1.2.3-user`; None when the id is not of a benchmark's form."""
    found = _BENCHMARK_ID.fullmatch(rule_id)
    return found.group("item") if found else None


@dataclass
class ManualLoader:
    """Reads `manual:` after the rules: ids unique among manual items and rules alike, and in a
    benchmark pack, no item that a rule already checks."""

    r: Reader
    pack: str
    benchmark: bool
    checked_id: Callable[[KeyPath, Any], str | None]  # the rules' id check (text, pattern)
    profile: Callable[[KeyPath, dict[str, Any]], Any]  # the rules' profile check
    rule_lines: dict[str, int]  # rule id -> its line
    rule_items: dict[str, tuple[str, int]]  # benchmark item -> (rule id, its line)

    def items(self, value: Any) -> tuple[ManualItem, ...]:
        found = self.r.items(("manual",), value)
        if found is None:
            return ()
        first: dict[str, int] = {}
        loaded = [self._item(("manual", index), entry, first) for index, entry in enumerate(found)]
        return tuple(item for item in loaded if item is not None)

    def _item(self, path: KeyPath, value: Any, first: dict[str, int]) -> ManualItem | None:
        data = self.r.mapping(path, value)
        if data is None:
            return None
        known = self.r.keys(path, data, _KEYS, _REQUIRED)
        if any(name not in data for name in _REQUIRED):
            return None
        item_id = self._id((*path, "id"), data["id"], first)
        title = self.r.text((*path, "title"), data["title"])
        check = self.r.text((*path, "check"), data["check"])
        profile = self.profile(path, data)
        if not known or item_id is None or title is None or check is None:
            return None
        if profile is not None and not isinstance(profile, int):
            return None  # reported by the profile check
        line = self.r.doc.spot((*path, "id"), key=True).line
        item = benchmark_item(item_id) if self.benchmark else item_id
        assert item is not None, "checked in _id"
        return ManualItem(self.pack, item_id, item, title, check, self.r.doc.file, line, profile)

    def _id(self, path: KeyPath, value: Any, first: dict[str, int]) -> str | None:
        item_id = self.checked_id(path, value)
        if item_id is None:
            return None
        line = self.r.doc.spot(path, key=True).line
        if item_id in self.rule_lines:
            where = self.rule_lines[item_id]
            self.r.fail(
                path,
                f"the manual item's id {item_id!r} is a rule's id (line {where})",
                "a manual item is for what no rule checks: remove one of them",
            )
            return None
        earlier = first.setdefault(item_id, line)
        if earlier != line:
            self.r.fail(path, f"duplicate manual item id {item_id!r} (first at line {earlier})")
            return None
        return item_id if not self.benchmark else self._benchmark_id(path, item_id)

    def _benchmark_id(self, path: KeyPath, item_id: str) -> str | None:
        item = benchmark_item(item_id)
        if item is None:
            self.r.fail(
                path,
                f"the id {item_id!r} names no benchmark item (the pack has `benchmark:`)",
                BENCHMARK_ID_HINT,
            )
            return None
        if item in self.rule_items:
            rule_id, line = self.rule_items[item]
            self.r.fail(
                path,
                f"item {item} is checked by rule {rule_id!r} (line {line})",
                "a manual item is for what no rule checks: remove one of them",
            )
            return None
        return item_id
