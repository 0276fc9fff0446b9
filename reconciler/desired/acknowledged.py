"""`acknowledged.yaml`: deviations the team accepted, each with an owner, a reason and an expiry.

    acknowledged:
      - target: user:bob@acme.test          # account, group:NAME, user:EMAIL (globs), or "*"
        rule: zoom-security-baseline/zsb-user-keeps-waiting-room   # or field: (not both)
        owner: it-security@acme.test
        reason: Bob runs the public webinar
        expires: 2027-03-31                 # inclusive

The loader checks the shape (every problem with file:line). Whether an entry has expired depends
on the day, so it is not a loading problem: `validate` reports expired entries as errors, and the
audit stops honouring them (the finding fails again), while plan and apply are not held up by a
date passing.

Two checks keep one entry from silencing a rule for everyone forever: `expires` at most
`acknowledgement_max_days` (reconciler.yaml, 365 unless set) after today, a loading problem since
days passing only bring an entry nearer; and `target: "*"` only with `scope: all` written beside
it, so "every target" is said on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from reconciler.desired import yamlfile
from reconciler.desired.models import FAMILY_KEYS
from reconciler.desired.problems import KeyPath, Spot, problem
from reconciler.desired.scalars import Timestamp
from reconciler.errors import ConfigError

ACKNOWLEDGED_FILE = "acknowledged.yaml"
_KEYS = ("target", "scope", "rule", "field", "owner", "reason", "expires")
DEFAULT_MAX_DAYS = 365
_RULE = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_FIELD_FAMILIES = (*FAMILY_KEYS, "locks")
_TARGET_HINT = (
    "use account, group:NAME, user:EMAIL (globs like user:*@contractors.acme.test),"
    " or * with scope: all"
)


@dataclass(frozen=True, slots=True)
class AckEntry:
    target: str
    rule: str | None
    field: str | None
    owner: str
    reason: str
    expires: date
    file: str
    line: int

    def expired(self, today: date) -> bool:
        return today > self.expires

    def covers_target(self, level: str, email: str, name: str, groups: tuple[str, ...]) -> bool:
        """Whether the selector names the target (a `group:` selector also names its members)."""
        selector = self.target
        if selector == "*":
            return True
        if selector == "account":
            return level == "account"
        kind, _, pattern = selector.partition(":")
        if kind == "user":
            return level == "user" and fnmatchcase(email.lower(), pattern.lower())
        if level == "group":
            return fnmatchcase(name, pattern)
        return level == "user" and any(fnmatchcase(group, pattern) for group in groups)

    def covers_field(self, field_label: str) -> bool:
        assert self.field is not None
        return field_label == self.field or field_label.startswith(self.field + ".")


def parse_acknowledged(
    file: str, raw: bytes, max_days: int = DEFAULT_MAX_DAYS, today: date | None = None
) -> tuple[list[AckEntry], list[ConfigError]]:
    """The entries of the file, or every problem in it; none may expire more than `max_days`
    after `today` (UTC's, unless given)."""
    latest = (today or datetime.now(UTC).date()) + timedelta(days=max_days)
    doc, found = yamlfile.read(file, raw)
    if found:
        return [], found
    data = doc.data
    if not isinstance(data, dict) or set(data) != {"acknowledged"}:
        message = "expected one key, `acknowledged:`, holding a list of entries"
        return [], [problem(file, doc.spot(()), (), message)]
    items = data["acknowledged"]
    if not isinstance(items, list):
        path: KeyPath = ("acknowledged",)
        return [], [problem(file, doc.spot(path), path, "expected a list of entries")]
    entries: list[AckEntry] = []
    problems: list[ConfigError] = []
    for index, item in enumerate(items):
        entry, wrong = _entry(doc, ("acknowledged", index), item)
        if entry is not None and entry.expires > latest:
            entry, wrong = None, [_too_late(doc, ("acknowledged", index), max_days, latest)]
        problems += wrong
        if entry is not None:
            entries.append(entry)
    return entries, problems


def _entry(
    doc: yamlfile.Document, path: KeyPath, item: Any
) -> tuple[AckEntry | None, list[ConfigError]]:
    file = doc.file
    line = doc.spot(path).line

    def fail(key: str | None, message: str, hint: str | None = None) -> ConfigError:
        where = (*path, key) if key else path
        return problem(file, doc.spot(where), where, message, hint)

    if not isinstance(item, dict):
        return None, [
            fail(None, "expected an entry: target, rule or field, owner, reason, expires")
        ]
    problems = [
        fail(str(key), f"unknown key {key!r}", "keys: " + ", ".join(_KEYS))
        for key in item
        if key not in _KEYS
    ]
    if isinstance(item.get("expires"), Timestamp):  # written unquoted, as a date should be
        item = {**item, "expires": str(item["expires"])}
    for key in ("target", "owner", "reason", "expires"):
        if key not in item:
            problems.append(fail(None, f"the entry has no `{key}:`"))
        elif not isinstance(item[key], str) or not item[key].strip():
            problems.append(fail(key, f"`{key}:` must be a non-empty string"))
    rule, field = item.get("rule"), item.get("field")
    if (rule is None) == (field is None):
        problems.append(fail(None, "the entry names exactly one of `rule:` and `field:`"))
    if rule is not None and not (isinstance(rule, str) and _RULE.fullmatch(rule)):
        problems.append(fail("rule", "`rule:` is PACK/RULE-ID", "e.g. cis-zoom-1.0/1.1.1.1.1"))
    if field is not None and not _field_ok(field):
        problems.append(
            fail(
                "field",
                "`field:` is a dotted path starting with a family or locks",
                "e.g. settings.in_meeting.chat or meeting_security.waiting_room",
            )
        )
    target = item.get("target")
    if isinstance(target, str) and not _target_ok(target):
        problems.append(fail("target", f"target {target!r} is not a selector", _TARGET_HINT))
    problems += _scope_problems(item, fail)
    expires = _date(item.get("expires"))
    if isinstance(item.get("expires"), str) and expires is None:
        problems.append(fail("expires", "`expires:` is a date, YYYY-MM-DD"))
    if problems or expires is None:
        return None, problems
    entry = AckEntry(
        str(target), rule, field, item["owner"].strip(), item["reason"].strip(), expires, file, line
    )
    return entry, []


def _scope_problems(item: dict[str, Any], fail: Callable[..., ConfigError]) -> list[ConfigError]:
    """`target: "*"` silences a rule for every target, so it must be said twice: `scope: all`."""
    scope, everyone = item.get("scope"), item.get("target") == "*"
    if "scope" in item and scope != "all":
        return [fail("scope", "`scope:` can only be all", 'it goes with target: "*"')]
    if everyone and scope != "all":
        return [
            fail(
                "target",
                'target "*" acknowledges the deviation for every target',
                "add `scope: all` to the entry if every target is meant, or name the targets",
            )
        ]
    if scope == "all" and not everyone:
        return [fail("scope", '`scope: all` goes only with target: "*"', "remove it")]
    return []


def _too_late(doc: yamlfile.Document, path: KeyPath, max_days: int, latest: date) -> ConfigError:
    where = (*path, "expires")
    return problem(
        doc.file,
        doc.spot(where),
        where,
        f"expires more than {max_days} days from today (after {latest.isoformat()})",
        "acknowledge for less and renew it then, or raise acknowledgement_max_days in "
        "reconciler.yaml",
    )


def _field_ok(field: Any) -> bool:
    if not isinstance(field, str):
        return False
    parts = field.split(".")
    return len(parts) >= 2 and parts[0] in _FIELD_FAMILIES and all(parts)


def _target_ok(target: str) -> bool:
    if target in ("*", "account"):
        return True
    kind, _, name = target.partition(":")
    return kind in ("user", "group") and bool(name)


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def expired_problems(entries: list[AckEntry], today: date) -> list[ConfigError]:
    """`validate`'s errors for the entries whose expiry has passed."""
    return [
        problem(
            entry.file,
            Spot(entry.line, 1),
            (),
            f"the acknowledgement of {entry.rule or entry.field} for {entry.target} "
            f"(owner {entry.owner}) expired on {entry.expires.isoformat()}",
            "fix the deviation, or renew the entry with a new expiry and reason",
        )
        for entry in entries
        if entry.expired(today)
    ]
