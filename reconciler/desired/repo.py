"""Load a settings repo: find its files, check each one, check them against each other.

Every problem in every file is collected; `load_repo` raises `ValidationFailed` with all of them,
sorted by file, line and column, or returns the `DesiredState`.

What is read, and what is refused:

- Only regular files are read. A symbolic link is refused wherever it points, inside the repo
  too (one rule is easier to trust than a judgement of where each link leads), and so is a named
  pipe, a device, a socket or a folder where a settings file belongs. `groups/` and `users/`, and
  every folder on the way to the defaults file, must be real folders. Nothing behind a refused
  entry is opened: each name is looked at without following it (lstat), then opened with
  O_NOFOLLOW and O_NONBLOCK relative to its folder, and the open file is looked at again (fstat),
  so what was swapped in between is refused too. (The root itself is the caller's choice, and
  may be reached through a link.)
- A file is read up to `max_file_bytes` (one byte more tells that it is over), whatever its size
  said: some files report none, others grow while being read.
- A problem with a whole file (empty, too big, not a regular file, misplaced) is reported at line
  1, column 1, as an empty file always was: every editor and GitHub annotation can show it.
- Dotfiles (`.gitkeep`) and README files (`README`, `README.md`, `.markdown`, `.txt`, `.rst`,
  `.adoc`, in any case) are ignored at the root and in `groups/` and `users/`. Anything else in
  the two folders that is not a `.yaml` file is a problem, and so is a root file or folder whose
  name is close to one the repo reads (`Defaults.yaml`, `account.yml`, `user/`), or a user file
  outside `users/`. Other root files (CI configuration, docs) are not the loader's business.

The loader reads through a `Tree`: `FileTree` is the repo on disk; `--changed-since` reads a git
revision with a tree of its own (`reconciler.plan.changed`), under the same rules.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from reconciler.desired import yamlfile
from reconciler.desired.acknowledged import ACKNOWLEDGED_FILE, AckEntry, parse_acknowledged
from reconciler.desired.layering import profile_conflicts
from reconciler.desired.messages import describe, schema_problems
from reconciler.desired.models import (
    DEFAULT_MAX_FILE_BYTES,
    FAMILY_KEYS,
    FileKind,
    RepoOptions,
    file_model,
)
from reconciler.desired.problems import START, KeyPath, Spot, problem, sorted_problems
from reconciler.desired.selection import OPTIONS_FILE, selections_of
from reconciler.desired.state import (
    Account,
    DesiredState,
    Group,
    Profile,
    Settings,
    Source,
    User,
    dotted,
    leaves,
    nest,
)
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.escape import printable, quoted
from reconciler.vocab import Family, email_key

ACCOUNT_FILE = "account.yaml"
DEFAULTS_FILE = RepoOptions().defaults_file
FOLDERS = ("groups", "users")
_EMAIL = re.compile(r"[^@\s/\\]+@[^@\s/\\]+\.[^@\s/\\]+")
_README = re.compile(r"readme(\.(md|markdown|txt|rst|adoc))?", re.IGNORECASE)
# How much of a file name a hint quotes back (a name can be as long as the file system allows).
_NAME_LIMIT = 120
# The longest name one folder entry may have on Linux and macOS (NAME_MAX), in bytes.
NAME_MAX = 255
_ANY_LINK = "links are refused wherever they point"
_EMPTY_HINT = "add settings, or delete it"

EntryKind = Literal["file", "folder", "link", "other"]


# -- what the loader reads through ----------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One name in the repo as it is, not followed if a link: its kind, and how to name it."""

    rel: str  # the path from the repo's root, `/`-separated
    kind: EntryKind
    what: str  # for messages: "a folder", "a named pipe (FIFO)", "a symbolic link (to ...)"

    @property
    def name(self) -> str:
        return self.rel.rsplit("/", 1)[-1]


class Refused(Exception):
    """A file that is not read, and why."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Tree(Protocol):
    """The files of a settings repo, by their `/`-separated path from its root ("" is the root)."""

    def entry(self, rel: str) -> Entry | None:
        """What is at `rel`, without following links; None if nothing is. When a folder on the
        way is a link, that link is the answer."""

    def entries(self, folder: str) -> list[Entry]:
        """What is directly in `folder` (one `entry` said is a folder), sorted by name."""

    def read(self, rel: str, limit: int) -> bytes:
        """The bytes of the regular file at `rel`; `Refused` if it is not one, or is over
        `limit` bytes."""


def not_a_file(entry: Entry) -> Refused:
    """Why a settings file that is not a regular file is not read."""
    if entry.kind == "link":
        hint = f"replace the link with the file itself; {_ANY_LINK}"
    elif entry.kind == "folder":
        hint = "remove the folder, or replace it with the settings file"
    else:
        hint = "replace it with a regular file"
    return Refused(f"is {entry.what}: settings files must be regular files in the repo", hint)


def too_big(size: int | None, limit: int) -> Refused:
    """A file over the limit; `size` is None when only reading it found that out."""
    if size is None:
        message = f"the file is over the limit of {limit} bytes"
    else:
        message = f"the file has {size} bytes, over the limit of {limit}"
    return Refused(message, "split it, or raise max_file_bytes in reconciler.yaml")


_ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_FOLDER_FLAGS = _ROOT_FLAGS | os.O_NOFOLLOW
# O_NOFOLLOW: a link put in place after the lstat is refused by the kernel, not followed.
# O_NONBLOCK: opening a named pipe does not wait for a writer. O_NOCTTY: a terminal stays unowned.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_CHUNK = 64 * 1024


@contextmanager
def _descriptor(fd: int) -> Iterator[int]:
    try:
        yield fd
    finally:
        os.close(fd)


def _kind(mode: int) -> tuple[EntryKind, str]:
    if stat.S_ISREG(mode):
        return "file", "a file"
    if stat.S_ISDIR(mode):
        return "folder", "a folder"
    if stat.S_ISLNK(mode):
        return "link", "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "other", "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "other", "a device"
    return "other", "a socket" if stat.S_ISSOCK(mode) else "neither a file nor a folder"


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    raise too_big(None, limit)


def _open_file(fd: int, rel: str, limit: int) -> bytes:
    """The bytes of an opened file, once the descriptor shows a regular file of a fitting size."""
    info = os.fstat(fd)
    kind, what = _kind(info.st_mode)
    if kind != "file":  # swapped in after the lstat: what was opened is what counts
        raise not_a_file(Entry(rel, kind, what))
    if info.st_size > limit:
        raise too_big(info.st_size, limit)
    return _read_at_most(fd, limit)


class FileTree:
    """The repo on disk. Nothing below the root is reached through a link: each folder on the way
    is opened with O_NOFOLLOW, relative to the one before."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def _folder(self, parts: Sequence[str]) -> Iterator[int]:
        with ExitStack() as stack:
            fd = stack.enter_context(_descriptor(os.open(self.root, _ROOT_FLAGS)))
            for part in parts:
                fd = stack.enter_context(_descriptor(os.open(part, _FOLDER_FLAGS, dir_fd=fd)))
            yield fd

    def _describe(self, folder: int, rel: str) -> Entry:
        name = rel.rsplit("/", 1)[-1]
        kind, what = _kind(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode)
        if kind == "link":
            inside = self._inside(rel, os.readlink(name, dir_fd=folder))
            what += " (to a path inside the repo)" if inside else " (to outside the repo)"
        return Entry(rel, kind, what)

    def _inside(self, rel: str, target: str) -> bool:
        """Whether a link's target lies inside the root; worked out from names and lstat alone,
        never by opening the target."""
        base = os.path.realpath(self.root)
        lands = os.path.realpath(os.path.join(base, os.path.dirname(rel), target))
        return os.path.commonpath([base, lands]) == base

    def _look(self, parts: Sequence[str]) -> Entry | None:
        try:
            with self._folder(parts[:-1]) as folder:
                return self._describe(folder, "/".join(parts))
        except FileNotFoundError:
            return None

    def entry(self, rel: str) -> Entry | None:
        parts = rel.split("/")
        for depth in range(1, len(parts)):
            found = self._look(parts[:depth])
            if found is None or found.kind == "link":
                return found
            if found.kind != "folder":
                return None
        return self._look(parts)

    def entries(self, folder: str) -> list[Entry]:
        prefix = f"{folder}/" if folder else ""
        with self._folder(folder.split("/") if folder else []) as fd:
            return [self._describe(fd, prefix + name) for name in sorted(os.listdir(fd))]

    def read(self, rel: str, limit: int) -> bytes:
        *folders, name = rel.split("/")
        try:
            with (
                self._folder(folders) as parent,
                _descriptor(os.open(name, _FILE_FLAGS, dir_fd=parent)) as fd,
            ):
                return _open_file(fd, rel, limit)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link swapped in after the lstat
                raise not_a_file(Entry(rel, "link", "a symbolic link")) from None
            raise


# -- checking one document ------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """A file that passed every check: its document (for positions) and the keys it set."""

    doc: yamlfile.Document
    data: dict[str, Any]

    def source(self, path: KeyPath) -> Source:
        spot = self.doc.keys[path]
        return Source(self.doc.file, spot.line, spot.col)


def _not_a_document(doc: yamlfile.Document) -> ConfigError | None:
    """An empty file, or one whose top is not a mapping."""
    if doc.data is None:
        message = "the file is empty, so it would manage nothing"
        return problem(doc.file, START, (), message, _EMPTY_HINT)
    if not isinstance(doc.data, dict):
        got = describe(doc.data)
        return problem(doc.file, doc.spot(()), (), f"expected a mapping of keys, got {got}")
    return None


def _manages_something(data: dict[str, Any]) -> bool:
    """Whether a checked file sets a single setting or lock (empty mappings set nothing)."""
    members = data.get("members") or {}
    parts = [data.get(key) for key in (*FAMILY_KEYS, "locks")]
    parts += [members.get(key) for key in FAMILY_KEYS]
    return any(part and next(leaves(part), None) is not None for part in parts)


def check_document(
    doc: yamlfile.Document, kind: FileKind
) -> tuple[dict[str, Any], list[ConfigError]]:
    """The keys a parsed file set (`exclude_unset`), or its problems."""
    if doc.data is None and kind == "reconciler":
        return {}, []
    wrong = _not_a_document(doc)
    if wrong is not None:
        return {}, [wrong]
    try:
        checked = file_model(kind).model_validate(doc.data)
    except ValidationError as exc:
        return {}, schema_problems(doc, kind, exc)
    data = checked.model_dump(by_alias=True, exclude_unset=True)
    if kind != "reconciler" and not _manages_something(data):
        # Like an empty file: almost always a mistake, and a plan would show nothing for it.
        message = "the file sets no setting and no lock, so it would manage nothing"
        return {}, [problem(doc.file, START, (), message, _EMPTY_HINT)]
    return data, []


def check_file(rel: str, raw: bytes, kind: FileKind) -> tuple[Checked | None, list[ConfigError]]:
    """A file's bytes as the loader checks them: YAML, then its kind's model; or its problems."""
    doc, found = yamlfile.read(rel, raw)
    data, found = ({}, found) if found else check_document(doc, kind)
    return (None, found) if found else (Checked(doc, data), [])


def _sources(checked: Checked, prefix: KeyPath, nested: dict[str, Any]) -> dict[str, Source]:
    return {dotted(path): checked.source((*prefix, *path)) for path, _ in leaves(nested)}


def _layer(checked: Checked, parts: dict[Family, tuple[KeyPath, dict[str, Any]]]) -> Settings:
    values: dict[Family, dict[str, Any]] = {}
    sources: dict[Family, dict[str, Source]] = {}
    for family, (prefix, nested) in parts.items():
        flat = dict(leaves(nested))
        if flat:
            values[family] = nest(flat)
            sources[family] = _sources(checked, prefix, nested)
    return Settings(values, sources)


def settings_of(checked: Checked, prefix: KeyPath = ()) -> Settings:
    """The settings families of a document (or of its `members:` profile)."""
    data = checked.data
    for key in prefix:
        data = data[str(key)]
    parts = {
        family: ((*prefix, key), data[key]) for key, family in FAMILY_KEYS.items() if key in data
    }
    return _layer(checked, parts)


def locks_of(checked: Checked) -> Settings:
    """`locks:` split into the lock families `general` and `meeting_security`."""
    locks = checked.data.get("locks", {})
    general = {key: value for key, value in locks.items() if key != "meeting_security"}
    parts: dict[Family, tuple[KeyPath, dict[str, Any]]] = {"general": (("locks",), general)}
    if "meeting_security" in locks:
        parts["meeting_security"] = (("locks", "meeting_security"), locks["meeting_security"])
    return _layer(checked, parts)


def _is_email(text: str) -> bool:
    return _EMAIL.fullmatch(text) is not None


def _ignored(name: str) -> bool:
    """Dotfiles and READMEs: what a folder holds besides settings, on purpose."""
    return name.startswith(".") or _README.fullmatch(name) is not None


def file_name_problem(folder: str, name: str) -> str | None:
    """Why the loader would not read `name` in `folder` ("" for the root, "groups", "users") as a
    settings file, said of the name's stem ("is not an email address"), or None. The loader reads
    by this rule and export names every file it writes by it, so what one writes the other reads."""
    stem = name.removesuffix(".yaml")
    if _ignored(name):
        return "starts with a dot or is a README, and those are not read"
    if stem == name:
        return "does not end in .yaml"
    if printable(name) != name or "/" in name or "\\" in name:
        return "holds a control, format or path-separator character"
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > NAME_MAX:
        return f"is {size} bytes long with .yaml, over the {NAME_MAX} a file name may have"
    if folder == "users" and not _is_email(stem):
        return "is not an email address"
    return None


def settings_path_problem(rel: str) -> str | None:
    """`file_name_problem` of a `/`-separated path, which must be at the root or directly in
    groups/ or users/ (a name from Zoom with a slash would land elsewhere, or outside the repo)."""
    folder, _, name = rel.rpartition("/")
    if folder not in ("", *FOLDERS):
        return "is not directly in groups/ or users/"
    return file_name_problem(folder, name)


def _not_a_folder(entry: Entry) -> tuple[str, str]:
    folder = entry.rel
    if entry.kind == "link":
        return (
            f"is {entry.what}: {folder}/ must be a folder in the repo",
            f"replace the link with the folder itself; {_ANY_LINK}",
        )
    files = f"{folder.removesuffix('s')} files"
    return (
        f"is {entry.what}, not a folder: {folder}/ holds the {files}",
        f"rename it, and keep the {files} in a folder {folder}/",
    )


# -- the repo -------------------------------------------------------------------------------------


class _Loader:
    """Walks one repo; keeps the problems of every file."""

    def __init__(self, tree: Tree, root: Path) -> None:
        self.tree = tree
        self.root = root
        self.problems: list[ConfigError] = []
        self.limit = DEFAULT_MAX_FILE_BYTES
        # sha256 of the bytes read, by file: what a saved plan is bound to (never read twice).
        self.digests: dict[str, str] = {}

    def fail(
        self, file: str, spot: Spot, path: KeyPath, message: str, hint: str | None = None
    ) -> None:
        self.problems.append(problem(file, spot, path, message, hint))

    def lookup(self, rel: str) -> Entry | None:
        try:
            return self.tree.entry(rel)
        except OSError as exc:
            self.fail(rel, START, (), f"cannot read it: {exc.strerror or exc}")
            return None

    def read(self, entry: Entry) -> bytes | None:
        try:
            if entry.kind != "file":
                raise not_a_file(entry)
            raw = self.tree.read(entry.rel, self.limit)
            self.digests[entry.rel] = hashlib.sha256(raw).hexdigest()
            return raw
        except Refused as refused:
            self.fail(entry.rel, START, (), refused.message, refused.hint)
        except OSError as exc:
            self.fail(entry.rel, START, (), f"cannot read the file: {exc.strerror or exc}")
        return None

    def check(self, entry: Entry, kind: FileKind) -> Checked | None:
        raw = self.read(entry)
        if raw is None:
            return None
        checked, found = check_file(entry.rel, raw, kind)
        self.problems += found
        return checked

    def folder(self, rel: str) -> list[Entry]:
        """The entries of `rel` ("" for the root) if it is a real folder."""
        base = self.lookup(rel) if rel else Entry("", "folder", "the repo")
        if base is None:
            return []
        if base.kind != "folder":
            self.fail(rel, START, (), *_not_a_folder(base))
            return []
        try:
            return self.tree.entries(rel)
        except OSError as exc:
            self.fail(rel or ".", START, (), f"cannot read the folder: {exc.strerror or exc}")
            return []

    def listing(self, folder: str) -> Iterator[Entry]:
        for entry in self.folder(folder):
            if _ignored(entry.name):
                continue
            if entry.name.endswith(".yaml"):
                yield entry  # whatever its kind: reading refuses all but a regular file
            else:
                self.stray(entry, folder)

    def stray(self, entry: Entry, folder: str) -> None:
        if entry.kind == "folder":
            message = f"a folder inside {folder}/: only files directly in {folder}/ are read"
            hint = f"move its files up into {folder}/"
        elif entry.name.endswith(".yml"):
            message = "not read: settings files end in .yaml"
            hint = f"rename it to {printable(entry.name[:-4], _NAME_LIMIT)}.yaml"
        else:
            message = f"not a .yaml file: only settings files belong in {folder}/"
            hint = "move it out of the folder"
        self.fail(entry.rel, START, (), message, hint)

    def options(self) -> tuple[RepoOptions, Checked | None]:
        entry = self.lookup(OPTIONS_FILE)
        checked = self.check(entry, "reconciler") if entry else None
        if checked is None:
            return RepoOptions(), None
        options = RepoOptions.model_validate(checked.data)
        self.limit = options.max_file_bytes
        return options, checked

    def account(self) -> Account | None:
        entry = self.lookup(ACCOUNT_FILE)
        checked = self.check(entry, "account") if entry else None
        if checked is None:
            return None
        return Account(ACCOUNT_FILE, settings_of(checked), locks_of(checked))

    def defaults(self, options: RepoOptions, config: Checked | None) -> tuple[Settings, str | None]:
        rel = self.defaults_path(options, config)
        entry = self.lookup(rel) if rel else None
        if entry is None:
            if rel is not None and config is not None and "defaults_file" in config.data:
                self.fail(
                    OPTIONS_FILE,
                    config.doc.spot(("defaults_file",)),
                    ("defaults_file",),
                    f"no such file: {printable(rel, _NAME_LIMIT)}",
                    "create it, or fix the path",
                )
            return Settings(), None
        checked = self.check(entry, "defaults")
        return (settings_of(checked), rel) if checked else (Settings(), None)

    def defaults_path(self, options: RepoOptions, config: Checked | None) -> str | None:
        path = PurePosixPath(options.defaults_file)
        bad = path.is_absolute() or ".." in path.parts or path.suffix != ".yaml"
        clash = path.parts[0] in FOLDERS or str(path) in (OPTIONS_FILE, ACCOUNT_FILE)
        if not (bad or clash):
            return str(path)
        spot = config.doc.spot(("defaults_file",)) if config else START
        self.fail(
            OPTIONS_FILE,
            spot,
            ("defaults_file",),
            f"{quoted(options.defaults_file)} is not a usable defaults file",
            "a .yaml path inside the repo, outside groups/ and users/",
        )
        return None

    def groups(self) -> dict[str, Group]:
        groups: dict[str, Group] = {}
        for entry in self.listing("groups"):
            usable = self.usable_name(entry, "groups", "rename it; a group: key can hold any name")
            checked = self.check(entry, "group")
            if checked is not None and usable:
                self.add_group(groups, _group(entry.rel, checked), checked)
        return groups

    def add_group(self, groups: dict[str, Group], group: Group, checked: Checked) -> None:
        other = groups.get(group.name) or next(
            (g for g in groups.values() if group.id and g.id == group.id), None
        )
        if other is None:
            groups[group.name] = group
            return
        key = "group" if other.name == group.name else "id"
        value = group.name if key == "group" else group.id
        spot = checked.doc.spot((key,)) if key in checked.data else START
        what = "group" if key == "group" else "group id"
        self.fail(
            group.file,
            spot,
            (),
            f"{what} {quoted(value)} is also in {other.file}",
            "keep one file per group",
        )

    def users(self) -> dict[str, User]:
        users: dict[str, User] = {}
        for entry in self.listing("users"):
            email = entry.name.removesuffix(".yaml")
            hint = "name user files users/<email>.yaml, e.g. users/alice@example.com.yaml"
            usable = self.usable_name(entry, "users", hint)
            checked = self.check(entry, "user")
            if checked is not None and usable and self.user_matches(entry, checked):
                self.add_user(users, User(email_key(email), entry.rel, settings_of(checked)))
        return users

    def usable_name(self, entry: Entry, folder: str, hint: str) -> bool:
        """Whether the file's name is one the repo reads; said once, for a file (else it is not
        read, and that is said)."""
        wrong = file_name_problem(folder, entry.name)
        if wrong is not None and entry.kind == "file":
            stem = entry.name.removesuffix(".yaml")
            self.fail(entry.rel, START, (), f"the file name {quoted(stem)} {wrong}", hint)
        return wrong is None

    def user_matches(self, entry: Entry, checked: Checked) -> bool:
        named = checked.data.get("user")
        email = entry.name.removesuffix(".yaml")
        if named is None or email_key(named) == email_key(email):
            return True
        self.fail(
            entry.rel,
            checked.doc.spot(("user",)),
            ("user",),
            f"{quoted(named)} does not match the file name",
            f"rename the file to users/{printable(named, _NAME_LIMIT)}.yaml,"
            " or remove the user: key",
        )
        return False

    def add_user(self, users: dict[str, User], user: User) -> None:
        other = users.get(user.email)
        if other is None:
            users[user.email] = user
            return
        self.fail(
            user.file,
            START,
            (),
            f"the same user as {other.file} (emails ignore case)",
            "keep one file per user",
        )

    def acknowledged(self, options: RepoOptions) -> tuple[AckEntry, ...]:
        entry = self.lookup(ACKNOWLEDGED_FILE)
        raw = self.read(entry) if entry else None
        if raw is None:
            return ()
        max_days = options.acknowledgement_max_days
        entries, found = parse_acknowledged(ACKNOWLEDGED_FILE, raw, max_days)
        self.problems += found
        return tuple(entries)

    def strays(self, options: RepoOptions) -> None:
        """Root entries that look meant for the repo but are not read."""
        defaults = options.defaults_file
        known = {OPTIONS_FILE, ACCOUNT_FILE, ACKNOWLEDGED_FILE, PurePosixPath(defaults).parts[0]}
        for entry in self.folder(""):
            name = entry.name
            if _ignored(name) or name in known or name in FOLDERS:
                continue
            found = _stray_problem(entry, known, defaults)
            if found:
                self.fail(name, START, (), *found)


_NOT_READ = "not part of the settings repo, so it is not read"


def _stray_problem(entry: Entry, known: set[str], defaults: str) -> tuple[str, str] | None:
    """The message and hint for a root entry that is probably meant to be read, if it is."""
    name = entry.name
    if entry.kind == "folder":
        found = difflib.get_close_matches(name.lower(), list(FOLDERS), n=1, cutoff=0.7)
        return (_NOT_READ, f"did you mean {found[0]}/?") if found else None
    if not name.endswith((".yaml", ".yml")):
        return None
    stem = name.rsplit(".", 1)[0]
    if _is_email(stem):
        return _NOT_READ, f"did you mean users/{printable(stem, _NAME_LIMIT)}.yaml?"
    candidates = sorted({*known, DEFAULTS_FILE})
    close = difflib.get_close_matches(f"{stem}.yaml".lower(), candidates, n=1, cutoff=0.8)
    if not close:
        return None
    if close[0] == DEFAULTS_FILE and DEFAULTS_FILE not in known:
        # reconciler.yaml moved the defaults elsewhere; a file by the usual name is left behind.
        shown = printable(defaults, _NAME_LIMIT)
        return (
            f"not read: the defaults file is {shown}, as defaults_file in reconciler.yaml says",
            f"move its settings into {shown}, or delete it",
        )
    return _NOT_READ, f"did you mean {close[0]}?"


def _group(rel: str, checked: Checked) -> Group:
    data = checked.data
    name = data.get("group") or rel.removeprefix("groups/").removesuffix(".yaml")
    members = None
    if "members" in data:
        members = Profile(
            group=name,
            priority=data["members"]["priority"],
            settings=settings_of(checked, ("members",)),
            source=checked.source(("members",)),
        )
    return Group(name, data.get("id"), rel, settings_of(checked), locks_of(checked), members)


def _load(loader: _Loader) -> DesiredState:
    options, config = loader.options()
    account = loader.account()
    defaults, defaults_file = loader.defaults(options, config)
    groups = loader.groups()
    users = loader.users()
    acknowledged = loader.acknowledged(options)
    loader.strays(options)
    loader.problems += profile_conflicts(g.members for g in groups.values() if g.members)
    return DesiredState(
        loader.root,
        options,
        account,
        defaults,
        defaults_file,
        groups,
        users,
        loader.digests,
        acknowledged,
        selections_of(options, config.doc if config else None),
    )


def load_tree(tree: Tree, root: Path) -> DesiredState:
    """Load and check the settings repo in `tree` (`root` is where it lives, for the state);
    raises `ValidationFailed` with every problem."""
    loader = _Loader(tree, root)
    state = _load(loader)
    if loader.problems:
        raise ValidationFailed(sorted_problems(loader.problems))
    return state


def load_repo(path: str | Path) -> DesiredState:
    """Load and check the settings repo at `path`; raises `ValidationFailed` with every problem."""
    root = Path(path)
    if not root.is_dir():
        raise ValidationFailed(
            [ConfigError(f"{path}: not a directory", hint="give the folder of the settings repo")]
        )
    return load_tree(FileTree(root), root)
