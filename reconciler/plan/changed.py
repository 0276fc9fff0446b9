"""`--changed-since REV`: the targets whose desired settings differ between REV and the work tree.

The settings repo as it was at REV is read from git's objects (`git ls-tree`, then `git cat-file
--batch` for the files' bytes; nothing is written to disk) and loaded like the current one, under
the same rules: a symbolic link or a submodule there is a problem of that revision and is never
followed, and no file is read past `max_file_bytes`. A revision whose repo does not load is no
base, so everything is planned. Targets are compared by value, so moving or re-commenting a key
changes nothing. A changed `members:` profile reaches its members; changed defaults reach everyone.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from reconciler.desired.git import git as _git
from reconciler.desired.layering import effective_user_settings
from reconciler.desired.repo import Entry, Refused, load_tree, not_a_file, too_big
from reconciler.desired.state import DesiredState, Settings
from reconciler.diff import strictly_equal
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.escape import quoted
from reconciler.live.directory import Directory
from reconciler.plan.model import Change, ChangeKey, Plan
from reconciler.targets import Scope

# `git cat-file --batch` answers `<oid> blob <size>`; anything longer is not that answer.
_HEADER_LIMIT = 200


@dataclass(frozen=True)
class _Blob:
    entry: Entry
    oid: str
    size: int | None


def _entry(rel: str, mode: str) -> Entry:
    """What a git tree entry is, by its mode; only a blob of a file mode is read."""
    if mode.startswith("100"):
        return Entry(rel, "file", "a file")
    if mode == "120000":
        return Entry(rel, "link", "a symbolic link")
    if mode == "160000":
        return Entry(rel, "other", "a git submodule")
    return Entry(rel, "other", f"a git entry of mode {mode}")


def _records(listing: bytes) -> Iterator[tuple[str, str, str, int | None]]:
    """`git ls-tree -r -z -l` records: path, mode, object id, size (None when not a blob)."""
    for record in listing.split(b"\0"):
        if record:
            meta, _, path = record.partition(b"\t")
            mode, _type, oid, size = meta.decode("ascii").split()
            yield os.fsdecode(path), mode, oid, int(size) if size.isdigit() else None


class _GitTree:
    """The settings repo in one git tree object (a `desired.repo.Tree`). The listing is read once;
    file contents come from one `git cat-file --batch` process for the whole load."""

    def __init__(self, root: Path, tree: str) -> None:
        self.root = root
        self.blobs: dict[str, _Blob] = {}
        self.children: dict[str, list[str]] = {"": []}
        self.batch: subprocess.Popen[bytes] | None = None
        listing = _git(root, "ls-tree", "--full-tree", "-r", "-z", "-l", tree)
        for rel, mode, oid, size in _records(listing):
            self.blobs[rel] = _Blob(_entry(rel, mode), oid, size)
            self._add(rel)

    def _add(self, rel: str) -> None:
        """`rel` in its folder's children, and each folder on the way in its own folder's."""
        parent = rel.rpartition("/")[0]
        known = parent in self.children
        self.children.setdefault(parent, []).append(rel)
        if not known:
            self._add(parent)

    def _at(self, rel: str) -> Entry:
        blob = self.blobs.get(rel)
        return blob.entry if blob else Entry(rel, "folder", "a folder")

    def entry(self, rel: str) -> Entry | None:
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            here = "/".join(parts[:depth])
            blob = self.blobs.get(here)
            if blob is not None:  # a link or submodule on the way answers; a file means nothing
                return None if blob.entry.kind == "file" else blob.entry
            if here not in self.children:
                return None
        return self._at(rel) if rel in self.blobs or rel in self.children else None

    def entries(self, folder: str) -> list[Entry]:
        return [self._at(rel) for rel in sorted(self.children.get(folder, []))]

    def read(self, rel: str, limit: int) -> bytes:
        blob = self.blobs.get(rel)
        if blob is None or blob.entry.kind != "file":
            raise not_a_file(blob.entry if blob else self._at(rel))
        if blob.size is not None and blob.size > limit:
            raise too_big(blob.size, limit)
        return self._contents(blob.oid, limit)

    def _contents(self, oid: str, limit: int) -> bytes:
        batch = self._batch()
        assert batch.stdin is not None and batch.stdout is not None
        batch.stdin.write(f"{oid}\n".encode("ascii"))
        batch.stdin.flush()
        header = batch.stdout.readline(_HEADER_LIMIT).split()
        size = int(header[2]) if len(header) == 3 and header[2].isdigit() else None
        if size is None or header[1] != b"blob":
            self.close()  # out of step with the answers: the next read starts a fresh process
            raise Refused("git did not give the file's bytes")
        if size > limit:  # ls-tree said it fits; the limit holds whatever was said
            self.close()
            raise too_big(size, limit)
        data = batch.stdout.read(size + 1)  # the bytes, then the newline that ends the answer
        if len(data) != size + 1:
            self.close()
            raise Refused("git did not give the file's bytes")
        return data[:size]

    def _batch(self) -> subprocess.Popen[bytes]:
        if self.batch is None:
            self.batch = subprocess.Popen(  # noqa: S603
                ["git", "-C", str(self.root), "cat-file", "--batch"],  # noqa: S607
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self.batch

    def close(self) -> None:
        batch, self.batch = self.batch, None
        if batch is None:
            return
        for pipe in (batch.stdin, batch.stdout):
            if pipe is not None:
                pipe.close()
        try:
            batch.wait(timeout=5)
        except subprocess.TimeoutExpired:
            batch.kill()
            batch.wait()

    def __enter__(self) -> _GitTree:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def load_repo_at(root: Path, revision: str) -> DesiredState | None:
    """The settings repo as of `revision`; None if it did not exist or did not validate."""
    if revision.startswith("-"):  # never let a revision be read as one of git's options
        raise ConfigError(f"--changed-since {quoted(revision)}: not a git revision")
    prefix = os.fsdecode(_git(root, "rev-parse", "--show-prefix").removesuffix(b"\n"))
    commit = _git(root, "rev-parse", "--verify", f"{revision}^{{commit}}").decode().strip()
    try:
        tree = _GitTree(root, f"{commit}:{prefix}")
    except ConfigError:
        return None  # the repo's folder was not there, or not a folder, at that revision
    with tree:
        try:
            return load_tree(tree, root)
        except ValidationFailed:
            return None


def _same(left: Settings | None, right: Settings | None) -> bool:
    def canonical(settings: Settings | None) -> str:
        values: Any = settings.values if settings else {}
        return json.dumps(values, sort_keys=True, default=repr)

    return canonical(left) == canonical(right)


def changed_scope(old: DesiredState | None, new: DesiredState) -> Scope:
    if old is None:
        return Scope()
    account = not (
        _same(_account(old, "settings"), _account(new, "settings"))
        and _same(_account(old, "locks"), _account(new, "locks"))
    )
    names = set(old.groups) | set(new.groups)
    groups = {name for name in names if _group_changed(old, new, name)}
    members = {name for name in names if _profile_changed(old, new, name)}
    emails = set(old.users) | set(new.users)
    users = {e for e in emails if not _same(_user(old, e), _user(new, e))}
    everyone = not _same(old.defaults, new.defaults)
    return Scope(
        account=account,
        groups=frozenset(groups),
        users=None if everyone else frozenset(users),
        member_groups=frozenset(members),
        since_revision=True,
        base=old,
    )


def _account(state: DesiredState, part: str) -> Settings | None:
    if state.account is None:
        return None
    settings: Settings = getattr(state.account, part)
    return settings


def _user(state: DesiredState, email: str) -> Settings | None:
    user = state.users.get(email)
    return user.settings if user else None


def _group_changed(old: DesiredState, new: DesiredState, name: str) -> bool:
    before, after = old.groups.get(name), new.groups.get(name)
    if before is None or after is None:
        return True
    return not (_same(before.settings, after.settings) and _same(before.locks, after.locks))


def _profile_changed(old: DesiredState, new: DesiredState, name: str) -> bool:
    before = old.groups[name].members if name in old.groups else None
    after = new.groups[name].members if name in new.groups else None
    if before is None or after is None:
        return before is not after
    return before.priority != after.priority or not _same(before.settings, after.settings)


# -- BLOCKED changes the base revision asked for too ----------------------------------------------


def blocked_before(
    plan: Plan, base: DesiredState, now: DesiredState, directory: Directory
) -> set[ChangeKey]:
    """The plan's BLOCKED changes that were there before the change under review: the repo at
    the base revision asked for the same value at the same leaf of the same target, under the
    same locks. A change that adds or moves a lock in any file may be what blocks them, so then
    none counts as there before (the author is shown every one)."""
    if not _same_locks(base, now):
        return set()
    return {
        change.key
        for change in plan.blocked
        if not change.locks and _base_wants(base, directory, change)
    }


def _same_locks(old: DesiredState, new: DesiredState) -> bool:
    if not _same(_account(old, "locks"), _account(new, "locks")):
        return False
    names = set(old.groups) | set(new.groups)
    return all(_same(_group_locks(old, name), _group_locks(new, name)) for name in names)


def _group_locks(state: DesiredState, name: str) -> Settings | None:
    group = state.groups.get(name)
    return group.locks if group else None


def _base_wants(base: DesiredState, directory: Directory, change: Change) -> bool:
    settings = _base_settings(base, directory, change)
    if settings is None:
        return False
    wanted = settings.flat(change.family)
    return change.path in wanted and strictly_equal(wanted[change.path], change.after)


def _base_settings(base: DesiredState, directory: Directory, change: Change) -> Settings | None:
    target = change.target
    if target.kind == "account":
        return base.account.settings if base.account else None
    if target.kind == "group":
        group = base.groups.get(target.name or "")
        return group.settings if group else None
    email = target.email or ""
    user = directory.users.get(email)
    names = tuple(directory.group_names(user)) if user else ()
    return effective_user_settings(base, email, names)
