"""Export: the settings repo written from the live account, the reverse of apply.

Reads through the live reader at the account's rate, like plan and audit. By default a file
holds only what its target does not inherit: the account file every settable field (it is the
root layer), a group file what differs from the account, a user file what differs from the
user's primary group (or the account, for a user in no group), so a 50,000-user account becomes
the few files that say something. Locks: the account's locked leaves, and a group's that the
account does not already lock. What the loader would refuse is never written: secrets, GET-only
and write-only fields (the repo's own schemas decide, `desired.zoomfields.managed_shape`).

On an existing repo the files are updated in place through `desired.writer`, so comments, key
order, quoting and blank lines stay; `--managed-only` only brings the live values of the keys a
file already names back into git (accepting drift) and adds nothing, the keys of the defaults
file and of `members:` profiles included (`export.layers`).

The live value of a field a lock above covers is the value the lock holds it at (the account's,
then the primary group's), as the plan compares it; a user's own answer may say otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import ValidationError

from reconciler.audit.model import field_label
from reconciler.desired.models import FAMILY_KEYS, KEY_OF_FAMILY, FileKind
from reconciler.desired.state import DesiredState, Settings, dotted, leaves, nest
from reconciler.desired.writer import Edit
from reconciler.desired.zoomfields import family_model, lock_shape, managed_shape
from reconciler.diff import MISSING, lookup, strictly_equal
from reconciler.errors import ConfigError, ZoomAPIError
from reconciler.escape import printable, quoted
from reconciler.export.layers import LayerTally
from reconciler.live.locks import ACCOUNT, Holder, locked_leaf
from reconciler.live.reader import LiveReader, Unreadable
from reconciler.targets import UserSelector
from reconciler.vocab import (
    FAMILIES,
    LOCK_FAMILIES,
    Family,
    LeafPath,
    Level,
    LockFamily,
    ProgressHook,
    email_key,
    no_progress,
)
from reconciler.zoom.endpoints import UserSummary

Mode = Literal["differences", "all", "managed"]
Schema = Mapping[str, Any]


@dataclass(frozen=True)
class ExportScope:
    """Which targets: None for all of a kind, an empty tuple for none."""

    account: bool = True
    groups: tuple[str, ...] | None = None  # glob patterns of group names
    users: UserSelector | None = None
    all_users: bool = True

    def wants_group(self, name: str) -> bool:
        return self.groups is None or any(fnmatchcase(name, p) for p in self.groups)


@dataclass(frozen=True)
class ExportOptions:
    scope: ExportScope = field(default_factory=ExportScope)
    families: tuple[Family, ...] = FAMILIES
    mode: Mode = "differences"
    fields: tuple[str, ...] = ()  # globs over `settings.in_meeting.chat`-style labels


@dataclass
class TargetFile:
    """What export wants in one file: the leaves (paths from the file's top) and where it goes."""

    level: Level
    label: str
    file: str  # relative to the repo
    header_schema: str  # the schema path for the header line, relative to the file
    top: dict[str, Any]  # `user:` / `group:` keys for a new file
    edits: list[Edit] = field(default_factory=list)
    exists: bool = False
    name: str = ""  # the group's name or the user's email, as Zoom gives it
    target_id: str = ""  # Zoom's id, when known
    kind: FileKind | None = None  # the loader's kind when not the level's (the defaults file)

    @property
    def shown(self) -> str:
        """The target as a warning names it: its name escaped and cut short, and its id."""
        if self.level == "account":
            return "the account"
        if self.kind == "defaults":
            return "the defaults file"
        known = f" (id {printable(self.target_id, 40)})" if self.target_id else ""
        return f"{self.level} {quoted(self.name)}{known}"


@dataclass
class ExportRead:
    """The live values export read, by target: repo shape, per family; lock leaves per family."""

    account: dict[Family, dict[str, Any]] = field(default_factory=dict)
    account_locks: dict[LockFamily, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, tuple[str, dict[Family, dict[str, Any]]]] = field(default_factory=dict)
    group_locks: dict[str, dict[LockFamily, dict[str, Any]]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)  # "user x: cause"
    kept: list[str] = field(default_factory=list)  # shared layers' fields left as they are, why


def settable(schema: Schema | None, value: Any) -> Any:
    """`value` pruned to what the schema lets a repo file set; MISSING when nothing is left."""
    if schema is None:
        return MISSING
    if isinstance(value, dict):
        if schema.get("type") != "object":
            return MISSING
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        kept: dict[str, Any] = {}
        for key, item in value.items():
            sub = properties.get(key)
            if sub is None and isinstance(extra, dict):
                sub = extra
            pruned = settable(sub, item)
            if pruned is not MISSING:
                kept[key] = pruned
        return kept or MISSING
    return MISSING if schema.get("type") == "object" else value


def checked_document(level: Level, family: Family, document: dict[str, Any]) -> dict[str, Any]:
    """The document without the leaves the loader's model refuses (a value Zoom reports that no
    file may hold, e.g. outside an enum the PATCH schema allows)."""
    model = family_model(level, family)
    flat = dict(leaves(document))
    for _ in range(8):
        try:
            model.model_validate(nest(flat))
            return nest(flat)
        except ValidationError as error:
            bad = {tuple(str(p) for p in e["loc"]) for e in error.errors()}
            kept = {p: v for p, v in flat.items() if not any(p[: len(b)] == b for b in bad)}
            if kept == flat:
                break
            flat = kept
    return {}


class Exporter:
    def __init__(
        self,
        state: DesiredState,
        reader: LiveReader,
        options: ExportOptions,
        *,
        workers: int,
        progress: ProgressHook = no_progress,
    ) -> None:
        self.state = state
        self.reader = reader
        self.options = options
        self.workers = workers
        self.progress = progress
        self.read = ExportRead()
        self.layers: LayerTally | None = None
        self._locked: dict[str, frozenset[tuple[Family, LeafPath]]] = {}

    # -- reading ----------------------------------------------------------------------------------

    async def _family(self, level: Level, target_id: str, family: Family) -> dict[str, Any] | None:
        live = await self.reader.read(level, target_id, family)
        if isinstance(live, Unreadable):
            return None
        pruned = settable(managed_shape(level, family), live.values)
        return {} if pruned is MISSING else checked_document(level, family, pruned)

    async def _documents(self, level: Level, target_id: str) -> dict[Family, dict[str, Any]] | None:
        families = self.options.families
        # Read at once under the client's pacer; one unreadable family leaves the target out.
        documents = await asyncio.gather(*(self._family(level, target_id, f) for f in families))
        found: dict[Family, dict[str, Any]] = {}
        for family, document in zip(families, documents, strict=True):
            if document is None:
                return None
            found[family] = document
        return found

    async def _locks(self, holder: Holder) -> dict[LockFamily, dict[str, Any]]:
        found: dict[LockFamily, dict[str, Any]] = {}
        for lock_family in LOCK_FAMILIES:
            doc = await self.reader.lock_doc(holder, lock_family)
            flat = {p: v for p, v in leaves(doc) if v is True}
            pruned = settable(_lock_schema(holder.kind, lock_family), nest(flat))
            found[lock_family] = {} if pruned is MISSING else pruned
        return found

    async def run(self) -> list[TargetFile]:
        reader = self.reader
        await reader.load_groups()
        read = self.read
        account = await self._documents("account", ACCOUNT.id)
        if account is None:
            raise ZoomAPIError("the account's settings could not be read; nothing was written")
        read.account = account
        read.account_locks = await self._locks(ACCOUNT)
        groups = sorted(reader.directory.groups_by_id.values(), key=lambda g: g["name"].lower())
        for group in groups:
            holder = Holder("group", group["name"], group["id"])
            documents = await self._documents("group", group["id"])
            if documents is None:
                read.unknown.append(f"group {group['name']}")
                continue
            read.groups[group["id"]] = (group["name"], documents)
            read.group_locks[group["id"]] = await self._locks(holder)
        files: list[TargetFile] = []
        scope = self.options.scope
        if scope.account:
            files.append(self._account_file())
        for group_id, (name, documents) in read.groups.items():
            if scope.wants_group(name):
                files.append(self._group_file(group_id, name, documents))
        if self.options.mode == "managed" and scope.all_users and scope.users is None:
            # Only a run that reads every user can tell what a shared layer decides.
            self.layers = LayerTally(self.state, self.options.families, self._wanted_label)
        if scope.all_users or scope.users is not None:
            files += await self._user_files()
        if self.layers is not None:
            self._accept_layers(files)
        return files

    def _accept_layers(self, files: list[TargetFile]) -> None:
        """The defaults file's and members: profiles' edits, each in its file's target."""
        assert self.layers is not None
        accepted = self.layers.accepted()
        self.read.kept += accepted.warnings
        by_group = {f.name: f for f in files if f.level == "group"}
        for group, edits in accepted.edits.items():
            if group is None:
                target = defaults_file(self.state)
                files.append(target)
            elif group in by_group:
                target = by_group[group]
            else:  # a group this run leaves out, or one Zoom lacks: its members decide it
                target = by_group[group] = group_file(self.state, group)
                files.append(target)
            target.edits += edits

    async def _user_files(self) -> list[TargetFile]:
        reader = self.reader
        await reader.list_active_users()
        directory = reader.directory
        users = directory.active_users()
        selector = self.options.scope.users
        if selector is not None:
            users = [u for u in users if selector.wants(u["email"], directory.group_names(u))]
        users.sort(key=lambda u: email_key(u["email"]))
        found: list[TargetFile] = []
        walk = reader.each_user(
            users, self._user_file, workers=self.workers, progress=self.progress
        )
        async for outcome in walk:
            if outcome.error is not None:  # left out, saying why
                user = outcome.user
                self.read.unknown.append(f"user {user['email']}: {outcome.error}")
                if self.layers is not None:
                    self.layers.unread(email_key(user["email"]), directory.group_names(user))
            elif outcome.result is not None:
                found.append(outcome.result)
        found.sort(key=lambda f: f.file)
        return found

    async def _user_file(self, user: UserSummary) -> TargetFile | None:
        email = email_key(user["email"])
        documents = await self._documents("user", user["id"])
        if documents is None:
            raise ZoomAPIError("its settings could not be read")
        primary = self.reader.directory.primary_group(user)
        parent = self.read.account
        if primary is not None and primary in self.read.groups:
            parent = self.read.groups[primary][1]
        holders = self._holders([] if primary is None else [primary])
        target = user_file(self.state, user["email"], user["id"])
        existing = self.state.users.get(email)
        own = existing.settings if existing else None
        held = _with_held(documents, own, holders)
        if self.layers is not None:
            groups = self.reader.directory.group_names(user)
            self.layers.count(email, groups, lambda f, p: _held(holders, held, f, p))
        locked = frozenset(leaf for fields, _values in holders for leaf in fields)
        target.edits = self._settings_edits(held, parent, own, locked)
        if not target.edits and not target.exists:
            return None
        return target

    # -- what each file should say ----------------------------------------------------------------

    def _account_file(self) -> TargetFile:
        account = self.state.account
        target = account_file(self.state)
        target.edits = self._settings_edits(
            self.read.account, None, account.settings if account else None
        )
        target.edits += self._lock_edits(
            self.read.account_locks, {}, account.locks if account else None
        )
        return target

    def _group_file(
        self, group_id: str, name: str, documents: dict[Family, dict[str, Any]]
    ) -> TargetFile:
        group = self.state.groups.get(name)
        target = group_file(self.state, name, group_id)
        own = group.settings if group else None
        holders = self._holders([])
        target.edits = self._settings_edits(
            _with_held(documents, own, holders), self.read.account, own, holders[0][0]
        )
        target.edits += self._lock_edits(
            self.read.group_locks.get(group_id, {}),
            self.read.account_locks,
            group.locks if group else None,
        )
        return target

    def _holders(self, group_ids: list[str]) -> list[_Holder]:
        """The fields each level above locks and its values: the account's, then the group's."""
        if "" not in self._locked:
            self._locked[""] = _locked_fields([self.read.account_locks])
        holders = [(self._locked[""], self.read.account)]
        for group_id in group_ids:
            if group_id not in self.read.groups:
                continue
            if group_id not in self._locked:
                self._locked[group_id] = _locked_fields([self.read.group_locks.get(group_id, {})])
            holders.append((self._locked[group_id], self.read.groups[group_id][1]))
        return holders

    def _wanted_label(self, label: str) -> bool:
        patterns = self.options.fields
        return not patterns or any(
            fnmatchcase(label, p) or label.startswith(p + ".") for p in patterns
        )

    def _settings_edits(
        self,
        documents: dict[Family, dict[str, Any]],
        parent: dict[Family, dict[str, Any]] | None,
        own: Settings | None,
        locked_above: frozenset[tuple[Family, LeafPath]] = frozenset(),
    ) -> list[Edit]:
        """The leaves this file should set to their live value. A field a level above locks is
        not added: the target holds what the lock holds, and a file setting it would be a
        BLOCKED change in the next plan."""
        mode = self.options.mode
        edits: list[Edit] = []
        for family, document in documents.items():
            key = KEY_OF_FAMILY[family]
            managed = set(own.flat(family)) if own is not None else set()
            for path, value in leaves(document):
                if mode == "managed" and path not in managed:
                    continue
                if not self._wanted_label(field_label(key, dotted(path))):
                    continue  # --fields: only those, whether the file names them or not
                if path not in managed and _is_locked(locked_above, family, path):
                    continue
                # A field the level above does not have is the target's own (a user's
                # `feature` section): nothing is inherited, so it is written only with
                # --all-fields, or the files of every user would repeat Zoom's defaults.
                inherited = lookup(parent[family], path) if parent is not None else MISSING
                differs = parent is None or (
                    inherited is not MISSING and not strictly_equal(inherited, value)
                )
                if mode == "all" or path in managed or differs:
                    edits.append(Edit((key, *path), value))
        return edits

    def _lock_edits(
        self,
        locks: dict[LockFamily, dict[str, Any]],
        above: dict[LockFamily, dict[str, Any]],
        own: Settings | None,
    ) -> list[Edit]:
        edits: list[Edit] = []
        for lock_family in LOCK_FAMILIES:
            prefix: tuple[str, ...] = (
                ("locks",) if lock_family == "general" else ("locks", "meeting_security")
            )
            managed = own.flat(lock_family) if own is not None else {}
            live = dict(leaves(locks.get(lock_family, {})))
            for path, wanted in managed.items():  # a managed lock Zoom no longer has
                label = field_label(KEY_OF_FAMILY[lock_family], dotted(path), locks=True)
                if path not in live and wanted is True and self._wanted_label(label):
                    edits.append(Edit((*prefix, *path), False))
            if self.options.mode == "managed":
                edits += [Edit((*prefix, *p), v) for p, v in live.items() if p in managed]
                continue
            for path, value in live.items():
                label = field_label(KEY_OF_FAMILY[lock_family], dotted(path), locks=True)
                if not self._wanted_label(label):
                    continue
                if path in managed or lookup(above.get(lock_family, {}), path) is not True:
                    edits.append(Edit((*prefix, *path), value))
        return edits


def _locked_fields(
    docs: list[dict[LockFamily, dict[str, Any]]],
) -> frozenset[tuple[Family, LeafPath]]:
    """The settings fields the lock documents of the levels above lock."""
    return frozenset(
        locked_leaf(lock_family, path)
        for doc in docs
        for lock_family, document in doc.items()
        for path, value in leaves(document)
        if value is True
    )


def _is_locked(locked: frozenset[tuple[Family, LeafPath]], family: Family, path: LeafPath) -> bool:
    return any((family, path[:depth]) in locked for depth in range(1, len(path) + 1))


Documents = dict[Family, dict[str, Any]]
_Holder = tuple[frozenset[tuple[Family, LeafPath]], Documents]  # what a level locks; its values


def _held(holders: list[_Holder], documents: Documents, family: Family, path: LeafPath) -> Any:
    """A target's live value of one field as the plan compares it: the value the first level
    above that locks it holds (Zoom enforces that, whatever the target's own answer says), else
    the target's own."""
    for locked, values in holders:
        if _is_locked(locked, family, path):
            held = lookup(values.get(family, {}), path)
            if held is not MISSING:
                return held
    return lookup(documents.get(family, {}), path)


def _with_held(documents: Documents, own: Settings | None, holders: list[_Holder]) -> Documents:
    """The documents with each field the file names at its `_held` value."""
    if own is None:
        return documents
    found = dict(documents)
    for family, document in documents.items():
        flat = dict(leaves(document))
        for path in own.flat(family):
            if path in flat:
                flat[path] = _held(holders, documents, family, path)
        found[family] = nest(flat)
    return found


def account_file(state: DesiredState) -> TargetFile:
    account = state.account
    return TargetFile(
        "account",
        "account",
        account.file if account else "account.yaml",
        "schemas/repo/account.schema.json",
        {},
        exists=account is not None,
    )


def defaults_file(state: DesiredState) -> TargetFile:
    """The all-users defaults file the repo has (export adds keys to it, never creates it)."""
    file = state.defaults_file or state.options.defaults_file
    header = "../" * file.count("/") + "schemas/repo/defaults.schema.json"
    return TargetFile(
        "user", "defaults", file, header, {}, exists=state.defaults_file is not None,
        kind="defaults",
    )  # fmt: skip


def group_file(state: DesiredState, name: str, group_id: str = "") -> TargetFile:
    group = state.groups.get(name)
    file = group.file if group else f"groups/{_file_name(name)}.yaml"
    top = {} if group or file == f"groups/{name}.yaml" else {"group": name}
    return TargetFile(
        "group", f"group {name}", file, "../schemas/repo/group.schema.json", top,
        exists=group is not None, name=name, target_id=group_id,
    )  # fmt: skip


def user_file(state: DesiredState, email: str, user_id: str = "") -> TargetFile:
    key = email_key(email)
    user = state.users.get(key)
    return TargetFile(
        "user", f"user {key}", user.file if user else f"users/{key}.yaml",
        "../schemas/repo/user.schema.json", {}, exists=user is not None,
        name=email, target_id=user_id,
    )  # fmt: skip


def _lock_schema(level: Level, lock_family: LockFamily) -> Schema | None:
    if level == "user":
        return None
    schema = dict(lock_shape(level, "patch"))
    if lock_family == "meeting_security":
        found = schema.get("properties", {}).get("meeting_security")
        return found if isinstance(found, dict) else None
    properties = {k: v for k, v in schema.get("properties", {}).items() if k != "meeting_security"}
    return {**schema, "properties": properties}


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _.-")


def _file_name(name: str) -> str:
    """A group's file name: its name when that is a safe file name, else a safe spelling of it
    (the file then says `group: NAME`)."""
    safe = "".join(c if c in _SAFE else "_" for c in name).strip(" .") or "group"
    return safe[:120]


def family_keys(values: Iterable[str]) -> tuple[Family, ...]:
    """`--families` by the repo's keys (settings, meeting_security, ...)."""
    found: list[Family] = []
    for value in values:
        if value not in FAMILY_KEYS:
            raise ConfigError(
                f"--families {value!r} is not a family",
                hint="use " + ", ".join(FAMILY_KEYS),
            )
        found.append(FAMILY_KEYS[value])
    return tuple(family for family in FAMILIES if family in found) or FAMILIES
