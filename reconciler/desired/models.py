"""The models of each file kind in the settings repo, and which Zoom shape a key path falls in.

File kinds: `reconciler.yaml` (repo options), `account.yaml`, `groups/<name>.yaml`,
`users/<email>.yaml`, and the all-users defaults file (`defaults.yaml` unless `reconciler.yaml`
says otherwise). A settings document has one key per option family: `settings` (general),
`meeting_authentication`, `recording_authentication` and `meeting_security`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Discriminator, Field, Tag, create_model
from pydantic_core import PydanticCustomError

from reconciler.desired.problems import KeyPath
from reconciler.desired.zoomfields import (
    STRICT,
    Schema,
    family_model,
    family_shape,
    lock_model,
    lock_shape,
)
from reconciler.schemas import Direction
from reconciler.vocab import FAMILIES, Family, Level, LockLevel, Tier

FileKind = Literal["reconciler", "account", "group", "user", "defaults"]
FILE_KINDS: tuple[FileKind, ...] = ("reconciler", "account", "group", "user", "defaults")
LEVEL_OF: dict[FileKind, Level] = {
    "account": "account",
    "group": "group",
    "user": "user",
    "defaults": "user",
}
FAMILY_KEYS: dict[str, Family] = {
    "settings": "general",
    "meeting_authentication": "meeting_authentication",
    "recording_authentication": "recording_authentication",
    "meeting_security": "meeting_security",
}
KEY_OF_FAMILY: dict[Family, str] = {family: key for key, family in FAMILY_KEYS.items()}
DEFAULT_MAX_FILE_BYTES = 256 * 1024
# The policy packs the tool ships (or will, with the policy checks): a name it does not know is a
# typo or a pack of a newer version, and either way nothing would be checked.
PolicyPack = Literal["cis-zoom-1.0", "zoom-security-baseline"]
POLICY_PACKS: tuple[PolicyPack, ...] = ("cis-zoom-1.0", "zoom-security-baseline")
# A repo's own pack: a .yaml file under policies/ (no `..`, no absolute path).
_REPO_PACK = re.compile(r"policies/[A-Za-z0-9_][A-Za-z0-9_.-]*\.yaml")


def _pack_name(value: str) -> str:
    """A shipped pack name or a repo pack path; anything else is a typo (did you mean ...)."""
    if value in POLICY_PACKS or (_REPO_PACK.fullmatch(value) and ".." not in value):
        return value
    expected = " or ".join(f"'{name}'" for name in POLICY_PACKS)
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})


PackName = Annotated[str, AfterValidator(_pack_name)]
RuleSeverity = Literal["low", "medium", "high", "critical"]


class PackChoice(BaseModel):
    """A `policies:` entry written as a mapping: a pack and which of its rules to enable."""

    model_config = STRICT

    pack: Annotated[PackName, Field(description="A shipped pack's name, or policies/NAME.yaml.")]
    profile: Annotated[
        Literal[1, 2] | None,
        Field(
            description="The CIS profile: 1 keeps the rules of profile 1 (and rules without a "
            "profile); 2 keeps profiles 1 and 2 (and rules without one)."
        ),
    ] = None
    except_: Annotated[
        list[Annotated[str, Field(min_length=1)]],
        Field(alias="except", description="Rule ids of the pack not to enable."),
    ] = []
    severity: Annotated[
        list[RuleSeverity],
        Field(min_length=1, description="Keep only the rules of these severities."),
    ] = []


# A plain name and a mapping are told apart by the value's type (not tried one after the other),
# so a problem is reported once, about the form that was written. The tags never reach a message:
# `policy_key_path` drops them from pydantic's locations.
POLICY_TAGS = ("name", "mapping")


def _entry_kind(value: Any) -> str:
    return "mapping" if isinstance(value, dict | PackChoice) else "name"


PolicyEntry = Annotated[
    Annotated[PackName, Tag("name")] | Annotated[PackChoice, Tag("mapping")],
    Discriminator(_entry_kind),
]


def policy_key_path(path: KeyPath) -> KeyPath:
    """A pydantic location in reconciler.yaml as a key path: `policies.0.mapping.profile` is
    `policies[0].profile`."""
    if len(path) > 2 and path[0] == "policies" and path[2] in POLICY_TAGS:
        return path[:2] + path[3:]
    return path


_DESCRIPTIONS: dict[Family, str] = {
    "general": "General settings by Zoom's sections: in_meeting, recording, schedule_meeting...",
    "meeting_authentication": "Meeting authentication: the switch and the options to offer.",
    "recording_authentication": "Recording authentication: the switch and the options to offer.",
    "meeting_security": "Meeting security settings (waiting room, passcodes, encryption, ...).",
}


class Safety(BaseModel):
    """Limits that make `apply` refuse a plan unless forced."""

    model_config = STRICT

    max_changed_targets: Annotated[
        int, Field(ge=0, description="Most users, groups and accounts one apply may change.")
    ] = 100
    max_changed_percent: Annotated[
        int, Field(ge=0, le=100, description="Most managed targets one apply may change, in %.")
    ] = 30


class RepoOptions(BaseModel):
    """`reconciler.yaml`: options for the whole repo. Every key is optional."""

    model_config = STRICT

    rate_tier: Annotated[
        Tier | None,
        Field(
            description="The account's plan, for Zoom's rate limits: free, pro, business. "
            "Unset: the client finds the rate (from Pro's up to Business's)."
        ),
    ] = None
    safety: Safety = Safety()
    policies: Annotated[
        list[PolicyEntry],
        Field(
            description="Policy packs to check: a shipped name ("
            + ", ".join(POLICY_PACKS)
            + ") or a pack file of this repo (policies/NAME.yaml); or a mapping "
            "{pack: NAME, profile: 1, except: [RULE-ID], severity: [high]} that enables some of "
            "its rules."
        ),
    ] = []
    defaults_file: Annotated[
        str, Field(min_length=1, description="The all-users defaults file, relative to the repo.")
    ] = "defaults.yaml"
    read_deadline: Annotated[
        float,
        Field(
            gt=0,
            le=7 * 86400,
            description="Seconds all of a run's reads from Zoom may take; past them the targets "
            "left are UNKNOWN.",
        ),
    ] = 4 * 3600.0  # a 50,000-user account at Zoom's lower rates, under GitHub's 6 h job limit
    read_stall: Annotated[
        float,
        Field(
            gt=0,
            le=86400,
            description="Seconds without any answer from Zoom after which a run stops reading.",
        ),
    ] = 180.0  # longer than one request's retries take to give up
    max_file_bytes: Annotated[
        int, Field(ge=1024, le=16 * 1024 * 1024, description="Largest file accepted, in bytes.")
    ] = DEFAULT_MAX_FILE_BYTES
    acknowledgement_max_days: Annotated[
        int,
        Field(
            ge=1,
            le=3650,
            description="Latest an acknowledged.yaml entry may expire, in days from today.",
        ),
    ] = 365


def _families(level: Level) -> dict[str, Any]:
    return {
        KEY_OF_FAMILY[family]: (
            family_model(level, family),
            Field(None, description=_DESCRIPTIONS[family]),
        )
        for family in FAMILIES
    }


def _locks(level: LockLevel) -> dict[str, Any]:
    text = "Locks: general lock sections, and meeting_security; true locks a setting."
    return {"locks": (lock_model(level), Field(None, description=text))}


@cache
def members_model() -> type[BaseModel]:
    priority = Annotated[int, Field(ge=0, le=1000)]
    return create_model(
        "MembersProfile",
        __config__=STRICT,
        __doc__="Settings for every member of the group; a higher priority wins.",
        priority=(priority, Field(description="0 to 1000; the higher wins for a user.")),
        **_families("user"),
    )


def _group_model() -> type[BaseModel]:
    name = Annotated[str, Field(min_length=1)]
    return create_model(
        "GroupFile",
        __config__=STRICT,
        __doc__="groups/<name>.yaml: a Zoom group's settings, locks and members profile.",
        group=(name, Field(None, description="The group's name in Zoom; the file name if unset.")),
        id=(name, Field(None, description="The group's Zoom id, to match by id, not by name.")),
        **_families("group"),
        **_locks("group"),
        members=(members_model(), Field(None, description="Settings for every member.")),
    )


@cache
def file_model(kind: FileKind) -> type[BaseModel]:
    """The model a file of `kind` is checked against."""
    if kind == "reconciler":
        return RepoOptions
    if kind == "group":
        return _group_model()
    if kind == "account":
        doc = "account.yaml: the account's settings and locks."
        return create_model(
            "AccountFile",
            __config__=STRICT,
            __doc__=doc,
            **_families("account"),
            **_locks("account"),
        )
    extra: dict[str, Any] = {}
    if kind == "user":
        text = "The user's email; the file name if unset."
        extra["user"] = (Annotated[str, Field(min_length=1)], Field(None, description=text))
    doc = {
        "user": "users/<email>.yaml: one user's settings.",
        "defaults": "The all-users defaults: the lowest layer of every user's settings.",
    }[kind]
    return create_model(
        f"{kind.title()}File", __config__=STRICT, __doc__=doc, **extra, **_families("user")
    )


@dataclass(frozen=True)
class Scope:
    """Where a key path lands in Zoom's shapes: one family (or the locks) at one level."""

    level: Level
    family: Family | None  # None: the locks of `level`
    prefix: KeyPath  # the key path to the family's root

    def shape(self, direction: Direction) -> Schema:
        if self.family is None:
            assert self.level != "user"
            return lock_shape(self.level, direction)
        return family_shape(self.level, self.family, direction)


def scope_of(kind: FileKind, path: KeyPath) -> Scope | None:
    """The Zoom shape that `path` (a key path in a file of `kind`) belongs to, if any."""
    if kind == "reconciler" or not path:
        return None
    level = LEVEL_OF[kind]
    prefix: KeyPath = ()
    if kind == "group" and path[0] == "members":
        level, prefix, path = "user", ("members",), path[1:]
    if not path:
        return None
    if path[0] == "locks" and not prefix and level != "user":
        return Scope(level, None, ("locks",))
    family = FAMILY_KEYS.get(str(path[0]))
    return Scope(level, family, (*prefix, path[0])) if family else None
