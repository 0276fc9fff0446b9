"""Load a settings repo: find its files, check each one, check them against each other.

Every problem in every file is collected; `load_repo` raises `ValidationFailed` with all of them,
sorted by file, line and column, or returns the `DesiredState`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from reconciler.desired import yamlfile
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
from reconciler.vocab import Family

OPTIONS_FILE = "reconciler.yaml"
ACCOUNT_FILE = "account.yaml"
FOLDERS = ("groups", "users")
_EMAIL = re.compile(r"[^@\s/\\]+@[^@\s/\\]+\.[^@\s/\\]+")


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
        message, hint = (
            "the file is empty, so it would manage nothing",
            "add settings, or delete it",
        )
        return problem(doc.file, START, (), message, hint)
    if not isinstance(doc.data, dict):
        got = describe(doc.data)
        return problem(doc.file, doc.spot(()), (), f"expected a mapping of keys, got {got}")
    return None


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
    return checked.model_dump(by_alias=True, exclude_unset=True), []


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


class _Loader:
    """Walks one repo; keeps the problems of every file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[ConfigError] = []
        self.limit = DEFAULT_MAX_FILE_BYTES

    def fail(
        self, file: str, spot: Spot, path: KeyPath, message: str, hint: str | None = None
    ) -> None:
        self.problems.append(problem(file, spot, path, message, hint))

    def read(self, rel: str) -> bytes | None:
        path = self.root / rel
        try:
            size = path.stat().st_size
            if size <= self.limit:
                return path.read_bytes()
        except OSError as exc:
            self.fail(rel, START, (), f"cannot read the file: {exc.strerror or exc}")
            return None
        self.fail(
            rel,
            START,
            (),
            f"the file has {size} bytes, over the limit of {self.limit}",
            "split it, or raise max_file_bytes in reconciler.yaml",
        )
        return None

    def check(self, rel: str, kind: FileKind) -> Checked | None:
        raw = self.read(rel)
        if raw is None:
            return None
        doc, found = yamlfile.read(rel, raw)
        data, found = ({}, found) if found else check_document(doc, kind)
        self.problems += found
        return None if found else Checked(doc, data)

    def listing(self, folder: str) -> Iterator[str]:
        base = self.root / folder
        entries = sorted(base.iterdir()) if base.is_dir() else []
        for entry in entries:
            rel = f"{folder}/{entry.name}"
            if entry.name.startswith("."):
                continue
            if entry.suffix == ".yaml" and entry.is_file():
                yield rel
            else:
                self.stray(rel, entry, folder)

    def stray(self, rel: str, entry: Path, folder: str) -> None:
        if entry.is_dir():
            message = f"a folder inside {folder}/: only files directly in {folder}/ are read"
            hint = f"move its files up into {folder}/"
        elif entry.suffix == ".yml":
            message, hint = (
                "not read: settings files end in .yaml",
                f"rename it to {entry.stem}.yaml",
            )
        else:
            message = f"not a .yaml file: only settings files belong in {folder}/"
            hint = "move it out of the folder"
        self.fail(rel, START, (), message, hint)

    def options(self) -> tuple[RepoOptions, Checked | None]:
        if not (self.root / OPTIONS_FILE).exists():
            return RepoOptions(), None
        checked = self.check(OPTIONS_FILE, "reconciler")
        if checked is None:
            return RepoOptions(), None
        options = RepoOptions.model_validate(checked.data)
        self.limit = options.max_file_bytes
        return options, checked

    def account(self) -> Account | None:
        if not (self.root / ACCOUNT_FILE).exists():
            return None
        checked = self.check(ACCOUNT_FILE, "account")
        if checked is None:
            return None
        return Account(ACCOUNT_FILE, settings_of(checked), locks_of(checked))

    def defaults(self, options: RepoOptions, config: Checked | None) -> tuple[Settings, str | None]:
        rel = self.defaults_path(options, config)
        if rel is None or not (self.root / rel).is_file():
            if rel is not None and config is not None and "defaults_file" in config.data:
                self.fail(
                    OPTIONS_FILE,
                    config.doc.spot(("defaults_file",)),
                    ("defaults_file",),
                    f"no such file: {rel}",
                    "create it, or fix the path",
                )
            return Settings(), None
        checked = self.check(rel, "defaults")
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
            f"{options.defaults_file!r} is not a usable defaults file",
            "a .yaml path inside the repo, outside groups/ and users/",
        )
        return None

    def groups(self) -> dict[str, Group]:
        groups: dict[str, Group] = {}
        for rel in self.listing("groups"):
            checked = self.check(rel, "group")
            if checked is not None:
                self.add_group(groups, _group(rel, checked), checked)
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
            f"{what} {value!r} is also in {other.file}",
            "keep one file per group",
        )

    def users(self) -> dict[str, User]:
        users: dict[str, User] = {}
        for rel in self.listing("users"):
            email = rel.removeprefix("users/").removesuffix(".yaml")
            if not _is_email(email):
                self.fail(
                    rel,
                    START,
                    (),
                    f"the file name {email!r} is not an email address",
                    "name user files users/<email>.yaml, e.g. users/alice@example.com.yaml",
                )
            checked = self.check(rel, "user")
            if checked is not None and _is_email(email) and self.user_matches(rel, email, checked):
                self.add_user(users, User(email.lower(), rel, settings_of(checked)))
        return users

    def user_matches(self, rel: str, email: str, checked: Checked) -> bool:
        named = checked.data.get("user")
        if named is None or named.lower() == email.lower():
            return True
        self.fail(
            rel,
            checked.doc.spot(("user",)),
            ("user",),
            f"{named!r} does not match the file name",
            f"rename the file to users/{named}.yaml, or remove the user: key",
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

    def strays(self, defaults_file: str | None) -> None:
        known = {OPTIONS_FILE, ACCOUNT_FILE, *([defaults_file] if defaults_file else [])}
        for entry in sorted(self.root.iterdir()):
            name = entry.name
            if name.startswith(".") or name in known or name in FOLDERS:
                continue
            close = _close_name(name, entry.is_dir(), known)
            if close:
                self.fail(
                    name,
                    START,
                    (),
                    "not part of the settings repo, so it is not read",
                    f"did you mean {close}?",
                )


def _close_name(name: str, is_dir: bool, known: set[str]) -> str | None:
    if is_dir:
        found = difflib.get_close_matches(name.lower(), list(FOLDERS), n=1, cutoff=0.7)
        return f"{found[0]}/" if found else None
    if not name.endswith((".yaml", ".yml")):
        return None
    stem = name.rsplit(".", 1)[0] + ".yaml"
    found = difflib.get_close_matches(stem.lower(), sorted(known), n=1, cutoff=0.8)
    return found[0] if found else None


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
    loader.strays(defaults_file)
    loader.problems += profile_conflicts(g.members for g in groups.values() if g.members)
    return DesiredState(loader.root, options, account, defaults, defaults_file, groups, users)


def load_repo(path: str | Path) -> DesiredState:
    """Load and check the settings repo at `path`; raises `ValidationFailed` with every problem."""
    root = Path(path)
    if not root.is_dir():
        raise ValidationFailed(
            [ConfigError(f"{path}: not a directory", hint="give the folder of the settings repo")]
        )
    loader = _Loader(root)
    state = _load(loader)
    if loader.problems:
        raise ValidationFailed(sorted_problems(loader.problems))
    return state
