"""Where packs live: the shipped ones by name, a settings repo's own by relative path.

Shipped packs are `policies/<name>.yaml` beside the package in a checkout, and
`reconciler/_policies/<name>.yaml` in an installed wheel (pyproject's force-include), found the
way `reconciler.schemas.schemas_root` finds the schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath

from reconciler.desired.problems import sorted_problems
from reconciler.desired.repo import FileTree
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.policy.reader import closest
from reconciler.policy.rules import Pack, load_pack, pack_of_bytes, read_pack_file

SHIPPED: tuple[str, ...] = ("cis-zoom-1.0", "zoom-security-baseline")


def policies_root() -> Path:
    """The shipped `policies/` folder: inside the package in a wheel, beside it in a checkout.

    The wheel's copy is looked for first: beside an installed package is site-packages, where
    some other distribution could have put a `policies` folder.
    """
    packaged = Path(str(resources.files("reconciler") / "_policies"))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent.parent / "policies"


def shipped_file(name: str) -> Path:
    return policies_root() / f"{name}.yaml"


def installed() -> tuple[str, ...]:
    """The shipped packs whose file is there (a checkout may not have every one yet)."""
    return tuple(name for name in SHIPPED if shipped_file(name).is_file())


def is_shipped(path: Path) -> bool:
    """True for a file of the shipped folder: its rules must carry pass and fail examples."""
    try:
        return path.resolve().parent == policies_root().resolve()
    except OSError:
        return False


@cache
def load_shipped(name: str) -> Pack:
    """A shipped pack, parsed once per process: validate, plan and apply's checks share it."""
    path = shipped_file(name)
    if name not in SHIPPED or not path.is_file():
        close = closest(name, SHIPPED)
        hint = f"did you mean '{close}'?" if close else "shipped packs: " + ", ".join(SHIPPED)
        raise ValidationFailed([ConfigError(f"no shipped policy pack named {name!r}", hint=hint)])
    return load_pack(path, f"policies/{name}.yaml", shipped=True)


def repo_pack_file(repo: Path, relative: str) -> Path:
    """A repo pack's file; a path that leaves the repo, or is absolute, is a ConfigError."""
    return repo / Path(*_repo_pack_parts(relative))


def _repo_pack_parts(relative: str) -> tuple[str, ...]:
    posix = PurePosixPath(relative)
    if posix.is_absolute() or ".." in posix.parts or posix.suffix != ".yaml":
        raise ConfigError(
            f"policy pack {relative!r}: a repo pack is a .yaml file named by its path in the repo",
            hint="e.g. policies/ours.yaml, or a shipped name: " + ", ".join(SHIPPED),
        )
    return posix.parts


def load_named(names: Iterable[str], repo: Path | None = None) -> list[Pack]:
    """Shipped names and repo paths (relative to `repo`), every problem in one ValidationFailed."""
    packs: list[Pack] = []
    problems: list[ConfigError] = []
    for name in names:
        try:
            packs.append(_load_one(name, repo))
        except ValidationFailed as exc:
            problems += exc.problems
        except ConfigError as exc:
            problems.append(exc)
    if problems:
        raise ValidationFailed(sorted_problems(problems))
    return packs


def _load_one(name: str, repo: Path | None) -> Pack:
    if name in SHIPPED or not name.endswith(".yaml"):
        return load_shipped(name)
    if repo is None:
        raise ConfigError(f"policy pack {name!r}: a repo pack needs the settings repo's path")
    # Through the repo loader's reader: no folder or file on the way is a link, a pipe or a
    # device, and the read is bounded (a pull request chooses this path in the PR workflow).
    rel = "/".join(_repo_pack_parts(name))
    raw = read_pack_file(FileTree(repo), rel, name)
    return pack_of_bytes(name, raw, PurePosixPath(rel).stem, shipped=False)
