"""Where packs live: the shipped ones by name, a settings repo's own by relative path; and which
of their rules a repo enables (`load_selected`, reconciler.yaml's `policies:` entries).

Shipped packs are `policies/<name>.yaml` beside the package in a checkout, and
`reconciler/_policies/<name>.yaml` in an installed wheel (pyproject's force-include), found the
way `reconciler.schemas.schemas_root` finds the schemas.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath

from reconciler.desired.problems import Spot, problem, sorted_problems
from reconciler.desired.repo import FileTree
from reconciler.desired.selection import OPTIONS_FILE, Selection, selections_of
from reconciler.desired.state import DesiredState
from reconciler.errors import ConfigError, ValidationFailed
from reconciler.policy.manual import ManualItem
from reconciler.policy.reader import closest
from reconciler.policy.rules import Pack, Rule, load_pack, pack_of_bytes, read_pack_file

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


def pack_name(name: str) -> str:
    """The `pack:` name of the pack a `policies:` entry names (a repo pack's is its file's stem)."""
    if name in SHIPPED or not name.endswith(".yaml"):
        return name
    return PurePosixPath(name).stem


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


# -- the rules a repo enables ---------------------------------------------------------------------


def repo_selections(state: DesiredState) -> tuple[Selection, ...]:
    """The repo's `policies:` entries (a state built without the loader: from its options)."""
    return state.selections or selections_of(state.options, None)


def selection_for(state: DesiredState, pack: str) -> Selection | None:
    """The repo's entry for `pack` (a shipped name or a repo path), None when it enables none:
    how a command that names a pack itself filters its rules as the repo does."""
    return next((found for found in repo_selections(state) if found.pack == pack), None)


def load_selected(selections: Sequence[Selection], repo: Path | None = None) -> list[Pack]:
    """The packs of the selections with only the rules each enables: the one way every command
    finds the repo's rules. Every problem, of the packs and of the entries (an id `except:`
    does not know, a profile no rule has, a pack named twice), in one ValidationFailed."""
    packs = load_named([selection.pack for selection in selections], repo)
    problems = _twice(selections)
    chosen = []
    for selection, pack in zip(selections, packs, strict=True):
        found = selection_problems(selection, pack)
        problems += found
        rules, manual = enabled_rules(selection, pack), enabled_manual(selection, pack)
        chosen.append(dataclasses.replace(pack, rules=rules, manual=manual))
    if problems:
        raise ValidationFailed(sorted_problems(problems))
    return chosen


def enabled_rules(selection: Selection, pack: Pack) -> tuple[Rule, ...]:
    return tuple(rule for rule in pack.rules if _enabled(selection, rule))


def _enabled(selection: Selection, rule: Rule) -> bool:
    if selection.severities and rule.severity not in selection.severities:
        return False
    return _in_profile(selection, rule.id, rule.profile)


def enabled_manual(selection: Selection, pack: Pack) -> tuple[ManualItem, ...]:
    """The manual items an entry keeps: by profile and `except:` as rules are; an entry that
    keeps some severities keeps none (a manual item has no severity to keep it by)."""
    if selection.severities:
        return ()
    return tuple(item for item in pack.manual if _in_profile(selection, item.id, item.profile))


def _in_profile(selection: Selection, item_id: str, profile: int | None) -> bool:
    if item_id in selection.excluded:
        return False
    # CIS's profile 2 extends profile 1; a rule without a profile is in both
    return selection.profile is None or profile is None or profile <= selection.profile


def selection_problems(selection: Selection, pack: Pack) -> list[ConfigError]:
    """What is wrong with an entry once its pack is read."""
    found = _unknown_ids(selection, pack)
    if selection.profile is not None and all(r.profile != selection.profile for r in pack.rules):
        profiles = sorted({rule.profile for rule in pack.rules if rule.profile is not None})
        hint = (
            f"its rules' profiles: {', '.join(map(str, profiles))}"
            if profiles
            else "its rules have no profile: remove profile"
        )
        message = f"{pack.name} has no rule of profile {selection.profile}"
        found.append(_problem(selection, ("profile",), message, hint))
    if not found and not enabled_rules(selection, pack):
        message = f"enables no rule of {pack.name}"
        found.append(_problem(selection, (), message, "loosen profile, except or severity"))
    return found


def _unknown_ids(selection: Selection, pack: Pack) -> list[ConfigError]:
    ids = [rule.id for rule in pack.rules] + [item.id for item in pack.manual]
    found = []
    first: dict[str, int] = {}
    for number, rule_id in enumerate(selection.excluded):
        where = ("except", number)
        if rule_id in first:
            at = _at(selection, ("except", first[rule_id]))
            message = f"names {rule_id!r} twice" + (f" (first at {at})" if at else "")
            found.append(_problem(selection, where, message, "remove one"))
            continue
        first[rule_id] = number
        if rule_id not in ids:
            close = closest(rule_id, ids)
            hint = f"did you mean '{close}'?" if close else "`reconciler policy list` names them"
            found.append(_problem(selection, where, f"{pack.name} has no rule {rule_id!r}", hint))
    return found


def _twice(selections: Sequence[Selection]) -> list[ConfigError]:
    found = []
    seen: dict[str, Selection] = {}
    for selection in selections:
        earlier = seen.setdefault(selection.pack, selection)
        if earlier is not selection:
            at = _at(earlier, ())
            message = f"enables {selection.pack} twice" + (f" (first at {at})" if at else "")
            found.append(_problem(selection, (), message, "keep one entry for each pack"))
    return found


def _at(selection: Selection, inner: tuple[str | int, ...]) -> str | None:
    """`line:col` of a part of the entry, or None outside the repo."""
    source = selection.source(inner)
    return f"{source.line}:{source.col}" if source else None


def _problem(
    selection: Selection, inner: tuple[str | int, ...], message: str, hint: str | None
) -> ConfigError:
    source = selection.source(inner)
    if source is None:
        return ConfigError(f"policy pack {selection.pack}: {message}", hint=hint)
    spot = Spot(source.line, source.col)
    return problem(OPTIONS_FILE, spot, selection.key_path(inner), message, hint)
