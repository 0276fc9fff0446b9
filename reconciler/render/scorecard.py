"""The scorecard (`reconciler.audit.scorecard`) in each audit format, for the top of its report.

Each format's renderer makes one call here: Markdown and HTML get a table per pack, JSON the
`scorecard` and `manual` keys, JUnit a first suite whose cases are the manual items (skipped,
with what to check as the message) and whose properties are every row's status, SARIF the run's
`scorecard` property. Every text from a pack is escaped as each format escapes outside text.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.audit.model import AuditResult
from reconciler.audit.scorecard import COUNTED, PackScorecard, ScorecardRow, scorecard
from reconciler.escape import printable
from reconciler.render.markdown import code, escape

MANUAL_SUITE = "reconciler/manual"
_LEVEL_HEADS = {"account": "account", "group": "groups", "user": "users"}
_MARK = {
    "fail": "❌ fail",
    "unknown": "❓ unknown",
    "acknowledged": "✅ acknowledged",
    "pass": "✅ pass",
    "not_applicable": "⚪ not applicable",
    "manual": "📝 manual",
}
_LAYER_TEXT = {
    "account": "the account's value",
    "groups": "groups' values",
    "account-lock": "no account lock",
    "per-user": "per-user",
}
# Where a failing row's fix belongs (`ScorecardRow.remedy`), as a reader is told it.
REMEDY_TEXT = {
    "account-lock": "account.yaml, locked",
    "account-file": "account.yaml",
    "group-file": "the group's file, locked",
    "group-files": "the failing groups' files",
    "user-files": "defaults.yaml (users' values)",
    "manual": "by hand",
}


def remedy_text(row: ScorecardRow) -> str:
    return REMEDY_TEXT.get(row.remedy or "", "")


def level_text(row: ScorecardRow, level: str) -> str:
    """`3 fail, 497 pass`: the level's non-zero counts, worst first; `-` where not judged."""
    counts = row.counts.get(level)
    if counts is None:
        return "-"
    order = ("fail", "unknown", "acknowledged", "pass", "not_applicable")
    shown = [f"{counts[label]} {label.replace('_', ' ')}" for label in order if counts[label]]
    return ", ".join(shown) or "0"


def totals_text(card: PackScorecard) -> str:
    totals = card.totals()
    return ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in totals.items())


# -- JSON -----------------------------------------------------------------------------------------


def row_json(row: ScorecardRow) -> dict[str, Any]:
    return {
        "item": row.item,
        "title": row.title,
        "status": row.status,
        "rules": list(row.rules),
        "counts": row.counts,
        "layer": row.layer,
        "profile": row.profile,
        "severity": row.severity,
        "check": row.check,
        "source": row.source,
        "remedy": row.remedy,
    }


def scorecard_json(result: AuditResult) -> dict[str, Any]:
    """`scorecard` (a card per pack with its totals and rows) and `manual` (every enabled item
    that no API can check, as `pack/id`)."""
    cards = scorecard(result)
    return {
        "scorecard": [
            {
                "pack": card.pack,
                "title": card.title,
                "benchmark": card.benchmark,
                "totals": card.totals(),
                "rows": [row_json(row) for row in card.rows],
            }
            for card in cards
        ],
        "manual": [
            {
                "id": f"{pack.name}/{item.id}",
                "item": item.item,
                "title": item.title,
                "profile": item.profile,
                "check": item.check,
                "source": {"file": item.file, "line": item.line},
            }
            for pack in result.packs
            for item in pack.manual
        ],
    }


# -- Markdown -------------------------------------------------------------------------------------


def scorecard_markdown(result: AuditResult) -> str:
    """A section per pack: its totals, then every row in a collapsed table."""
    parts = []
    for card in scorecard(result):
        head = (
            "| item | title | status | account | groups | users | decided by / check "
            "| remedy's place |"
        )
        rows = "\n".join(_markdown_row(card, row) for row in card.rows)
        parts.append(
            f"\n#### Scorecard: {escape(card.title)} ({code(card.pack)})\n\n"
            f"{totals_text(card)}.\n\n<details><summary>Every item</summary>\n\n"
            f"{head}\n|---|---|---|---|---|---|---|---|\n{rows}\n\n</details>\n"
        )
    return "".join(parts)


def _markdown_row(card: PackScorecard, row: ScorecardRow) -> str:
    item = row.item if card.benchmark else f"{card.pack}/{row.item}"
    last = escape(row.check) if row.check else _LAYER_TEXT.get(row.layer or "", "")
    levels = [level_text(row, level) for level in _LEVEL_HEADS]
    cells = [code(item), escape(row.title), _MARK[row.status], *levels, last, remedy_text(row)]
    return "| " + " | ".join(cells) + " |"


# -- HTML -----------------------------------------------------------------------------------------


def _text(value: object) -> str:
    return html.escape(printable(str(value)), quote=True)


def scorecard_html(result: AuditResult) -> str:
    """`<section id="scorecard">`: a table per pack (`#scorecard-PACK`), one row per item with
    its status as a class, using the page's own styles only (its CSP pins the stylesheet)."""
    cards = scorecard(result)
    if not cards:
        return ""
    tables = "".join(_html_card(index, card) for index, card in enumerate(cards))
    return f'<section id="scorecard"><h2>Scorecard</h2>{tables}</section>'


def _html_card(index: int, card: PackScorecard) -> str:
    heads = [
        "item", "title", "status", *_LEVEL_HEADS.values(), "decided by / check", "remedy's place",
    ]  # fmt: skip
    head = "".join(f'<th scope="col">{_text(name)}</th>' for name in heads)
    rows = "".join(_html_row(row) for row in card.rows)
    return (
        f"<h3>{_text(card.title)} <code>{_text(card.pack)}</code></h3>"
        f'<p class="muted">{_text(totals_text(card))}</p>'
        f'<div class="table-wrap"><table class="scorecard" id="scorecard-{index}" '
        f'data-pack="{_text(card.pack)}"><caption class="sr-only">Scorecard of '
        f"{_text(card.pack)}</caption><thead><tr>{head}</tr></thead><tbody>{rows}</tbody>"
        "</table></div>"
    )


def _html_row(row: ScorecardRow) -> str:
    levels = "".join(f'<td class="num">{_text(level_text(row, lvl))}</td>' for lvl in _LEVEL_HEADS)
    last = _text(row.check) if row.check else _text(_LAYER_TEXT.get(row.layer or "", ""))
    return (
        f'<tr data-item="{_text(row.item)}" data-status="{_text(row.status)}">'
        f'<td class="mono">{_text(row.item)}</td><td>{_text(row.title)}</td>'
        f'<td class="status status-{_text(row.status)}">{_text(row.status)}</td>'
        f"{levels}<td>{last}</td><td>{_text(remedy_text(row))}</td></tr>"
    )


# -- JUnit ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JUnitSuite:
    counts: dict[str, int]  # tests, failures, errors, skipped
    xml: str  # the whole <testsuite> element, indented one level; "" for none


def junit_manual_suite(
    result: AuditResult, attribute: Callable[[str], str], text: Callable[[str], str]
) -> JUnitSuite:
    """A `reconciler/manual` suite, when an enabled pack has manual items: a skipped case per
    item with what to check as its message, and every scorecard row's status as a property.
    `attribute` and `text` are the JUnit writer's escapes (for attributes, and hidden
    characters), so this suite is escaped as every other one."""
    cards = scorecard(result)
    manual = [(card, row) for card in cards for row in card.rows if row.check is not None]
    counts = {"tests": len(manual), "failures": 0, "errors": 0, "skipped": len(manual)}
    if not manual:
        return JUnitSuite(counts, "")

    def pairs(**values: str) -> str:
        return "".join(f' {name}="{attribute(text(value))}"' for name, value in values.items())

    lines = [
        f'  <testsuite name="{MANUAL_SUITE}" tests="{len(manual)}" failures="0" errors="0" '
        f'skipped="{len(manual)}">',
        "    <properties>",
        *(
            f"      <property{pairs(name=f'{card.pack} {row.item}', value=_status_line(row))} />"
            for card in cards
            for row in card.rows
        ),
        "    </properties>",
    ]
    for card, row in manual:
        assert row.check is not None
        name = pairs(classname=f"{card.pack}/manual", name=f"{row.item}: {row.title}")
        lines += [
            f"    <testcase{name}>",
            f"      <skipped{pairs(message=row.check)} />",
            "    </testcase>",
        ]
    lines.append("  </testsuite>")
    return JUnitSuite(counts, "\n".join(lines) + "\n")


def _status_line(row: ScorecardRow) -> str:
    parts = [row.status]
    parts += [f"{_LEVEL_HEADS[level]} {level_text(row, level)}" for level in row.counts]
    if row.layer:
        parts.append(f"decided by {_LAYER_TEXT[row.layer]}")
    if row.remedy and row.status != "manual":  # a manual row's status says it already
        parts.append(f"remedy: {remedy_text(row)}")
    return "; ".join(parts)


# -- SARIF ----------------------------------------------------------------------------------------


def scorecard_sarif(result: AuditResult) -> dict[str, Any]:
    """The run's `scorecard` property: a card per pack with its totals and compact rows."""
    return {
        "scorecard": [
            {
                "pack": card.pack,
                "title": card.title,
                "totals": card.totals(),
                "rows": [_sarif_row(row) for row in card.rows],
            }
            for card in scorecard(result)
        ]
    }


def _sarif_row(row: ScorecardRow) -> dict[str, Any]:
    found: dict[str, Any] = {"item": row.item, "title": row.title, "status": row.status}
    if row.counts:
        found["counts"] = {
            level: {label: counts[label] for label in COUNTED if counts[label]}
            for level, counts in row.counts.items()
        }
    if row.layer:
        found["layer"] = row.layer
    if row.remedy and row.status != "manual":
        found["remedy"] = row.remedy
    if row.check:
        found["check"] = row.check
    return found
