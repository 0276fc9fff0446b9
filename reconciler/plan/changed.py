"""`--changed-since REV`: the targets whose desired settings differ between REV and the work tree.

The settings repo as it was at REV is taken from git (`git archive`) into a temporary folder and
loaded like the current one; targets are compared by value, so moving or re-commenting a key
changes nothing. A changed `members:` profile reaches its members; changed defaults reach everyone.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from reconciler.desired import load_repo
from reconciler.desired.state import DesiredState, Settings
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.plan.scope import Scope


def _git(root: Path, *args: str) -> bytes:
    try:
        # The user's own git from PATH, on purpose: it carries their configuration.
        done = subprocess.run(  # noqa: S603
            ["git", "-C", str(root), *args],  # noqa: S607
            capture_output=True,
            check=True,
        )
    except FileNotFoundError as exc:
        raise ConfigError("--changed-since needs git, which is not installed") from exc
    except subprocess.CalledProcessError as exc:
        message = exc.stderr.decode(errors="replace").strip()
        raise ConfigError(f"git {' '.join(args)}: {message}") from exc
    return done.stdout


def repo_commit(root: Path) -> str | None:
    """The commit of the settings repo, with `+dirty` when the work tree has changes."""
    try:
        head = _git(root, "rev-parse", "HEAD").decode().strip()
        # The tool's own state (.reconciler/: the sandbox, the audit log) is not the repo's.
        dirty = _git(root, "status", "--porcelain", "--", ".", ":(exclude).reconciler").strip()
    except ConfigError:
        return None
    return f"{head}+dirty" if dirty else head


def load_repo_at(root: Path, revision: str) -> DesiredState | None:
    """The settings repo as of `revision`; None if it did not exist or did not validate."""
    prefix = _git(root, "rev-parse", "--show-prefix").decode().strip()
    _git(root, "rev-parse", "--verify", f"{revision}^{{commit}}")
    try:
        archive = _git(root, "archive", "--format=tar", revision, "--", prefix or ".")
    except ConfigError:
        return None
    with tempfile.TemporaryDirectory(prefix="reconciler-rev-") as scratch:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(scratch, filter="data")
        try:
            return load_repo(Path(scratch) / prefix)
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
