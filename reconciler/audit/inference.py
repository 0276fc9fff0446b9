"""Reads that the locks above a user make unneeded.

Zoom enforces a value locked at the account (or at a user's group) on the user: the user's GET
shows the holder's value. So when every field the audit needs from one settings family of a user
(the fields the repo manages for that user, and those the enabled user-level rules read) is
locked above, the family is not read: its document is made of the holders' values, and the
outcome is marked inferred, with the holder.

Any doubt means a read:
- a needed field without a lock above, or a lock covering only a deeper part of it (a section
  that a rule reads whole is inferred only from a lock on the section itself);
- a field that Zoom types differently at the user, group and account levels (an inherited value
  that does not fit a lower level is not passed down), or that the account's GET lacks, or an
  authentication option (locks cover only the family's switch);
- a holder whose value is not known (its read failed);
- a group's lock over a user in several groups (which group's lock Zoom applies is the primary's,
  a fact of the directory this does not bet on);
- a family with no needed field for the user (nothing to infer; it is read as before).

`--read-all` turns it off: every family of every user is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from reconciler.desired.models import KEY_OF_FAMILY
from reconciler.desired.state import DesiredState, Settings, nest
from reconciler.diff import MISSING, lookup
from reconciler.live.locks import LockView, covering_lock
from reconciler.policy import Engine
from reconciler.schemas import zoom_settings_schema
from reconciler.vocab import Family, LeafPath, Level

# (family key, who holds the locks it was inferred from), per inferred family of a target.
InferredFamilies = tuple[tuple[str, str], ...]
_SWITCHES: dict[Family, LeafPath] = {
    "meeting_authentication": ("meeting_authentication",),
    "recording_authentication": ("recording_authentication",),
}


@cache
def _schema_node(level: Level, family: Family, path: LeafPath) -> dict[str, Any] | None:
    """The GET schema of the field at `level` (None: no such field)."""
    node: Any = zoom_settings_schema(level, family, "get")
    full = ("meeting_security", *path) if family == "meeting_security" else path
    for step in full:
        if not isinstance(node, dict):
            return None
        node = node.get("properties", {}).get(step)
    return node if isinstance(node, dict) else None


@cache
def same_at_every_level(family: Family, path: LeafPath) -> bool:
    """The field is one field at the user, group and account levels: same GET schema at each."""
    if family in _SWITCHES and path != _SWITCHES[family]:
        return False  # authentication options: no lock covers them
    user = _schema_node("user", family, path)
    return user is not None and all(
        _schema_node(level, family, path) == user for level in ("group", "account")
    )


class Inference:
    """Which families of a user need no read, and the values the locks above give them."""

    def __init__(
        self, state: DesiredState, engine: Engine | None, families: Iterable[Family], *, on: bool
    ) -> None:
        rules = engine.rules_at("user") if engine is not None else ()
        self.on = on  # a rule's fields are all listed: packs refuse `locked` read whole
        self.rule_fields: dict[Family, frozenset[LeafPath]] = {
            family: frozenset(
                path
                for rule in rules
                for found, path in rule.reads.fields | rule.reads.locks
                if found == family
            )
            for family in families
        }
        self._wanted = self._fields_users_may_need(state)
        # holder id -> (family, path) -> the holder's live value, for the fields users may need
        self._held: dict[str, dict[tuple[Family, LeafPath], Any]] = {}
        self._interned: dict[InferredFamilies, InferredFamilies] = {}
        self.reads_skipped = 0

    def _fields_users_may_need(self, state: DesiredState) -> set[tuple[Family, LeafPath]]:
        layers: list[Settings] = [state.defaults]
        layers += [g.members.settings for g in state.groups.values() if g.members]
        layers += [user.settings for user in state.users.values()]
        wanted = {(f, path) for f, paths in self.rule_fields.items() for path in paths}
        for layer in layers:
            wanted |= {(f, path) for f in layer.families for path in layer.flat(f)}
        return wanted

    def user_documents(
        self, desired: Settings | None, views: tuple[LockView, ...], group_count: int
    ) -> tuple[dict[Family, dict[str, Any]], InferredFamilies]:
        """The families of a user that need no read: their documents, and whom each came from
        (one tuple shared by every user with the same, since thousands can be)."""
        documents: dict[Family, dict[str, Any]] = {}
        entries: list[tuple[str, str]] = []
        for family in self.rule_fields:
            found = self.infer(family, desired, views, group_count)
            if found is not None:
                documents[family] = found[0]
                entries.append((KEY_OF_FAMILY[family], found[1]))
        key = tuple(entries)
        return documents, self._interned.setdefault(key, key)

    def keep_holder(self, holder_id: str, documents: dict[Family, dict[str, Any]]) -> None:
        """A lock holder's documents as the audit read them: only the fields users may need."""
        if not self.on:
            return
        kept: dict[tuple[Family, LeafPath], Any] = {}
        for family, path in self._wanted:
            if family in documents:
                value = lookup(documents[family], path)
                if value is not MISSING:
                    kept[(family, path)] = value
        self._held[holder_id] = kept

    def needed(self, family: Family, desired: Settings | None) -> frozenset[LeafPath]:
        managed = desired.flat(family) if desired and family in desired.families else {}
        return self.rule_fields.get(family, frozenset()) | frozenset(managed)

    def infer(
        self,
        family: Family,
        desired: Settings | None,
        views: tuple[LockView, ...],
        group_count: int,
    ) -> tuple[dict[str, Any], str] | None:
        """The family's document from the locks above and who holds them; None: read it."""
        needed = self.needed(family, desired) if self.on else frozenset()
        if not needed:
            return None
        values: dict[LeafPath, Any] = {}
        holders: set[str] = set()
        for path in sorted(needed, key=len):
            if any(path[:depth] in values for depth in range(1, len(path))):
                continue  # inside a section already taken whole
            lock = covering_lock(views, family, path)
            if lock is None or not same_at_every_level(family, path):
                return None
            holder = lock.view.holder
            if holder.kind == "group" and group_count != 1:
                return None
            value = self._held.get(holder.id, {}).get((family, path), MISSING)
            if value is MISSING:
                return None
            values[path] = value
            holders.add(holder.who)
        self.reads_skipped += 1
        return nest(values), " and ".join(sorted(holders))
