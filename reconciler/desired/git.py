"""The settings repo's git: the user's own git run in the repo's folder, and the commit a plan or
an audit was made from."""

from __future__ import annotations

import subprocess
from pathlib import Path

from reconciler.errors import ConfigError


def git(root: Path, *args: str) -> bytes:
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
        head = git(root, "rev-parse", "HEAD").decode().strip()
        # The tool's own state (.reconciler/: the sandbox, the audit log) is not the repo's.
        dirty = git(root, "status", "--porcelain", "--", ".", ":(exclude).reconciler").strip()
    except ConfigError:
        return None
    return f"{head}+dirty" if dirty else head
