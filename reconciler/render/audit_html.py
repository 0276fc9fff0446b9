"""The audit as one self-contained HTML page, for an auditor to open from disk or a CI artifact.

Everything is in the file: the stylesheet, the bar charts (inline SVG drawn here), and a small
script that filters and sorts the findings table, showing DISPLAY_LIMIT rows at a time so that
10,000 rows stay quick. The table holds the roll-ups (`reconciler.audit.rollup`): a layer's
failure with the users who inherit it is one row whose target cell opens (`<details>`) on a
sample of them and the counts. The page stays under 10 MB for any account: at most ROW_LIMIT
rows (ROWS_BUDGET bytes), LIST_LIMIT unreadable targets and changed fields, each cut saying what
it left out and that the JSON report has every one.

The page loads nothing, and its Content-Security-Policy allows exactly its own stylesheets and
script (by their sha256), so a target's name or a value that Zoom answered can neither fetch
anything nor run: every text that came from outside is escaped (hidden characters shown as
escapes, then HTML-escaped). The output is a function of the `AuditResult` alone, byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from reconciler.audit.model import (
    Acknowledgement,
    AuditFinding,
    AuditResult,
    FieldChange,
)
from reconciler.audit.rollup import Depth, RollUp, RollUps, roll_up
from reconciler.diff import MISSING
from reconciler.escape import printable
from reconciler.policy import Rule
from reconciler.render.scorecard import scorecard_html

# Most severe first; a severity outside this list sorts after them.
SEVERITY_ORDER = ("critical", "high", "medium", "low")
TOP_RULES = 10
TOP_GROUPS = 15
CHART_LABEL_CHARS = 30
NO_VALUE = "\u2014"
# Rows the findings table shows at once (a button shows all): laying out 10,000 rows takes the
# browser seconds, on load and after every sort or search; 500 take a fraction of one.
DISPLAY_LIMIT = 500
# What the page holds at most, so that it stays under 10 MB for any account: findings rows (a
# layer's roll-up is one row) up to a row and a character budget, then a note that the JSON
# report has them all; the same for the unreadable targets and the changed fields.
ROW_LIMIT = 5_000
ROWS_BUDGET = 6_000_000  # bytes of findings rows (UTF-8)
SAMPLE_SIZE = 10  # targets shown in a roll-up's drill-down
LIST_LIMIT = 1_000  # rows of the unreadable targets and of the changed fields
MESSAGE_CHARS = 1_000
VALUE_CHARS = 300
JSON_HAS_ALL = (
    "the JSON report (<code>--format json</code>, or audit.json in an evidence folder) lists "
    "every one"
)

STYLESHEET = (
    """
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de;
  --bg-alt: #f6f8fa; --fail: #cf222e; --ok: #1a7f37; --warn: #bf8700; --info: #0969da; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; padding: 1.5rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, sans-serif; color: var(--fg); background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; border-bottom: 1px solid var(--line);
  padding-bottom: .3rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.verdict { display: inline-block; margin: .8rem 0 0; padding: .35rem .8rem; border-radius: 4px;
  font-weight: 600; color: #fff; }
.verdict.clean { background: var(--ok); }
.verdict.failing { background: var(--fail); }
.summary { display: flex; flex-wrap: wrap; gap: 1.5rem; }
.summary > section { flex: 1 1 36rem; min-width: 0; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
  white-space: nowrap; }
table { border-collapse: collapse; margin: .3rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left;
  vertical-align: top; }
th { background: var(--bg-alt); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fbfcfd; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
.table-wrap { overflow-x: auto; max-width: 100%; }
#findings { width: 100%; min-width: 76rem; table-layout: fixed; font-size: 13px; }
#findings td { overflow-wrap: anywhere; }
#findings .col-status { width: 8%; } #findings .col-kind { width: 4.5%; }
#findings .col-severity { width: 5.5%; } #findings .col-level { width: 6%; }
#findings .col-target { width: 10%; } #findings .col-field { width: 10%; }
#findings .col-actual { width: 6%; } #findings .col-expected { width: 5.5%; }
#findings .col-rule { width: 10%; } #findings .col-locked-by { width: 5.5%; }
#findings .col-source { width: 8.5%; } #findings .col-acknowledged { width: 8.5%; }
#findings .col-message { width: 12%; }
#findings thead th { position: sticky; top: 0; z-index: 1; padding: 0; }
#findings thead th button { display: block; width: 100%; margin: 0; padding: .3rem .5rem;
  border: 0; background: none; color: inherit; font: inherit; font-weight: 600;
  text-align: left; cursor: pointer; }
#findings thead th button:focus-visible { outline: 2px solid var(--info); outline-offset: -2px; }
#findings thead th[aria-sort="ascending"] button::after { content: " \\25B2"; }
#findings thead th[aria-sort="descending"] button::after { content: " \\25BC"; }
.search { display: flex; gap: .6rem; align-items: center; margin: .4rem 0; flex-wrap: wrap; }
.search input { font: inherit; padding: .3rem .5rem; min-width: 22rem; max-width: 100%;
  border: 1px solid var(--line); border-radius: 4px; }
.muted, .none { color: var(--muted); }
.status { font-weight: 600; }
.status-fail, .status-drift { color: var(--fail); }
.status-unknown { color: var(--warn); }
.status-acknowledged { color: var(--muted); }
.expired { color: var(--fail); font-weight: 600; }
.capped-note { color: var(--warn); font-weight: 600; }
details.rollup summary { cursor: pointer; }
details.rollup ul { margin: .3rem 0; padding-left: 1.2rem; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.chart text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg.chart rect { fill: var(--info); }
svg.chart .bar-fail rect, svg.chart .bar-critical rect, svg.chart .bar-high rect,
svg.chart .bar-unreadable_targets rect, svg.chart .bar-drift rect { fill: var(--fail); }
svg.chart .bar-pass rect { fill: var(--ok); }
svg.chart .bar-unknown rect, svg.chart .bar-medium rect { fill: var(--warn); }
svg.chart .bar-low rect { fill: #8c959f; }
svg.chart .bar-not_applicable rect, svg.chart .bar-acknowledged rect { fill: #afb8c1; }
@media print { .search { display: none; } #findings thead th { position: static; } }
"""
    + (
        # Until the script takes over the rows, only the first DISPLAY_LIMIT get laid out.
        f"#findings.capped tbody tr:nth-child(n+{DISPLAY_LIMIT + 1}) {{ display: none; }}\n"
    )
)
# Without a script, nothing would lift the cap on the rows shown: show them all.
NOSCRIPT_STYLESHEET = "#findings.capped tbody tr:nth-child(n) { display: table-row; }"

SCRIPT = """
"use strict";
(function () {
  const table = document.getElementById("findings");
  const controls = document.getElementById("finding-controls");
  const search = document.getElementById("finding-search");
  const shownCount = document.getElementById("finding-count");
  const showAll = document.getElementById("finding-show-all");
  if (!table || !controls || !search || !shownCount || !showAll) {
    return;
  }
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  let order = rows.map(function (row, index) {
    return index;
  });
  let limit = Number(table.getAttribute("data-display-limit")) || Infinity;
  let texts = null;
  function matches(index, query) {
    if (query === "") {
      return true;
    }
    if (texts === null) {
      texts = rows.map(function (row) {
        return Array.from(row.cells, function (cell) {
          return cell.textContent;
        }).join("\\n").toLowerCase();
      });
    }
    return texts[index].indexOf(query) !== -1;
  }
  function update() {
    const query = search.value.trim().toLowerCase();
    let matching = 0;
    order.forEach(function (index) {
      const match = matches(index, query);
      if (match) {
        matching += 1;
      }
      const hide = !match || matching > limit;
      if (rows[index].hidden !== hide) {
        rows[index].hidden = hide;
      }
    });
    const shown = Math.min(matching, limit);
    let status = shown + " of " + rows.length + " rows shown";
    if (matching > shown) {
      status += " (the first " + shown + " of " + matching + " that match)";
    }
    shownCount.textContent = status;
    showAll.hidden = matching <= shown;
  }
  search.addEventListener("input", update);
  showAll.addEventListener("click", function () {
    limit = Infinity;
    update();
  });
  const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });
  const headers = Array.from(table.tHead.rows[0].cells);
  function sortKey(cell) {
    const key = cell.getAttribute("data-sort");
    return key === null ? cell.textContent : key;
  }
  headers.forEach(function (header, column) {
    const button = header.querySelector("button");
    if (!button) {
      return;
    }
    button.addEventListener("click", function () {
      const ascending = header.getAttribute("aria-sort") !== "ascending";
      const direction = ascending ? 1 : -1;
      const keys = rows.map(function (row) {
        return sortKey(row.cells[column]);
      });
      order = rows.map(function (row, index) {
        return index;
      });
      order.sort(function (a, b) {
        return direction * collator.compare(keys[a], keys[b]) || a - b;
      });
      update();
      const fragment = document.createDocumentFragment();
      order.forEach(function (index) {
        fragment.appendChild(rows[index]);
      });
      body.appendChild(fragment);
      headers.forEach(function (other) {
        other.removeAttribute("aria-sort");
      });
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    });
  });
  update();
  table.classList.remove("capped");
  controls.hidden = false;
})();
"""


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src {_csp_hash(STYLESHEET)} {_csp_hash(NOSCRIPT_STYLESHEET)}; "
    f"script-src {_csp_hash(SCRIPT)}; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)

FINDING_COLUMNS = (
    "status",
    "kind",
    "severity",
    "level",
    "target",
    "field",
    "actual",
    "expected",
    "rule",
    "locked by",
    "source",
    "acknowledged",
    "message",
)


def _text(value: object, limit: int | None = None) -> str:
    """Outside text as HTML: hidden characters shown escaped, then markup and quotes escaped."""
    return html.escape(printable(str(value), limit), quote=True)


def _value_text(value: Any) -> str:
    """A settings value as JSON text (an em dash when not known)."""
    if value is MISSING:
        return f'<span class="none">{NO_VALUE}</span>'
    try:
        shown = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        shown = type(value).__name__
    return f"<code>{_text(shown, VALUE_CHARS)}</code>"


def _label(key: str) -> str:
    return key.replace("_", " ")


def _severity_rank(severity: str) -> int:
    """1 for the least severe, so an ascending sort lists low first."""
    if severity in SEVERITY_ORDER:
        return len(SEVERITY_ORDER) - SEVERITY_ORDER.index(severity)
    return 0


def _by_severity(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-_severity_rank(item[0]), item[0]))


def _most_first(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


# -- building blocks ----------------------------------------------------------------------------


def _facts(rows: Iterable[tuple[str, str]]) -> str:
    """A definition list; the values are HTML already."""
    items = "".join(f"<dt>{html.escape(term)}</dt><dd>{value}</dd>" for term, value in rows)
    return f'<dl class="facts">{items}</dl>'


def _count_table(caption: str, heading: str, counts: Sequence[tuple[str, int]]) -> str:
    """A two-column table of counts; its caption is for screen readers (a heading shows it)."""
    if not counts:
        return '<p class="muted">None.</p>'
    body = "".join(
        f'<tr><td>{_text(key)}</td><td class="num">{count}</td></tr>' for key, count in counts
    )
    return (
        f'<table><caption class="sr-only">{html.escape(caption)}</caption>'
        f'<thead><tr><th scope="col">{html.escape(heading)}</th>'
        f'<th scope="col">count</th></tr></thead><tbody>{body}</tbody></table>'
    )


def bar_chart(
    chart_id: str, title: str, bars: Sequence[tuple[str, int, str]], tips: Sequence[str] = ()
) -> str:
    """A horizontal bar chart as inline SVG: `bars` are (label, count, css suffix); `tips`, when
    given, the bars' tooltips (else "label: count"). The chart's <title> and <desc> give every
    number as text, for screen readers and for a reader of the source."""
    if not bars:
        return ""
    label_width, bar_width, count_width, row_height, margin = 200, 300, 60, 24, 4
    width = label_width + bar_width + count_width
    height = 2 * margin + row_height * len(bars)
    largest = max(count for _, count, _ in bars) or 1
    description = "; ".join(f"{label}: {count}" for label, count, _ in bars)
    parts = [
        f'<svg class="chart" id="{chart_id}" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{html.escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{_text(description)}</desc>'
    ]
    for index, (label, count, css) in enumerate(bars):
        top = margin + index * row_height
        length = bar_width * count / largest
        if count and length < 2:
            length = 2.0
        baseline = top + 16
        parts.append(
            f'<g class="bar-{html.escape(css, quote=True)}">'
            f"<title>{_text(tips[index] if tips else f'{label}: {count}')}</title>"
            f'<text x="{label_width - 8}" y="{baseline}" text-anchor="end">'
            f"{_text(label, CHART_LABEL_CHARS)}</text>"
            f'<rect x="{label_width}" y="{top + 4}" width="{length:.1f}" '
            f'height="{row_height - 8}" rx="2"></rect>'
            f'<text x="{label_width + length + 6:.1f}" y="{baseline}">{count}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


# -- sections -----------------------------------------------------------------------------------


def _header(result: AuditResult) -> str:
    failing = result.failing_count
    acknowledged = len(result.findings) - failing
    if result.clean:
        verdict = '<p class="verdict clean">Clean: no failing findings'
    else:
        noun = "finding" if failing == 1 else "findings"
        verdict = f'<p class="verdict failing">Not clean: {failing} failing {noun}'
    verdict += f" ({acknowledged} acknowledged)</p>" if acknowledged else "</p>"
    facts = _facts(
        [
            ("account", _text(result.account_id)),
            ("started", _text(result.started_at)),
            ("finished", _text(result.finished_at)),
            ("repo", _text(result.repo_path or NO_VALUE)),
            ("repo commit", f'<span class="mono">{_text(result.repo_commit or NO_VALUE)}</span>'),
            ("tool version", _text(result.tool_version)),
            ("targets", f"{len(result.targets)} ({len(result.unknown_targets)} unreadable)"),
        ]
    )
    note = result.inferred_note
    inferred = f'<p class="muted">{_text(note)}</p>' if note else ""
    return f"<header><h1>Zoom settings audit</h1>{facts}{verdict}{inferred}</header>"


def _lock_note(finding: AuditFinding) -> str:
    """The lock column: who locks the field, and whether the value was inferred from a lock."""
    notes = [finding.locked_by or ""]
    if finding.inferred_from:
        notes.append(f"inferred from {finding.inferred_from}")
    return "; ".join(note for note in notes if note)


def _top_failing_rules(result: AuditResult) -> list[tuple[Rule, int]]:
    fails = [
        (rule, count)
        for rule in result.rules
        if (count := result.rule_counts(rule.code)["fail"])
    ]
    fails.sort(key=lambda item: (-item[1], item[0].pack, item[0].id))
    return fails[:TOP_RULES]


def _summary_block(title: str, heading: str, counts: Sequence[tuple[str, int]], chart: str) -> str:
    table = _count_table(title, heading, counts)
    return f"<section><h3>{html.escape(title)}</h3>{table}{chart}</section>"


def _summary(result: AuditResult) -> str:
    by_result = list(result.counts_by_result().items())
    results = [(_label(key), count) for key, count in by_result]
    top_rules = _top_failing_rules(result)
    by_severity = _by_severity(result.counts_by("severity"))
    by_level = list(result.counts_by("level").items())
    by_group = _most_first(result.counts_by_group())
    rules_title = f"Top failing rules (at most {TOP_RULES})"
    groups_title = "Failing user findings by group"
    blocks = [
        _summary_block(
            "Results",
            "result",
            results,
            bar_chart("chart-result", "Results", [(_label(k), n, k) for k, n in by_result]),
        ),
        _summary_block(
            rules_title,
            "rule",
            [(rule.code, count) for rule, count in top_rules],
            bar_chart(
                "chart-rule",
                rules_title,
                [(rule.id, count, "fail") for rule, count in top_rules],
                [f"{rule.code} ({rule.title}): {n} failing" for rule, n in top_rules],
            ),
        ),
        _summary_block(
            "Failing findings by severity",
            "severity",
            by_severity,
            bar_chart(
                "chart-severity",
                "Failing findings by severity",
                [(k, n, k) for k, n in by_severity],
            ),
        ),
        _summary_block(
            "Failing findings by level",
            "level",
            by_level,
            bar_chart(
                "chart-level", "Failing findings by level", [(k, n, "level") for k, n in by_level]
            ),
        ),
        _summary_block(
            groups_title,
            "group",
            by_group,
            bar_chart(
                "chart-group",
                f"{groups_title} (top {TOP_GROUPS})",
                [(k, n, "group") for k, n in by_group[:TOP_GROUPS]],
            ),
        ),
    ]
    return (
        f'<section id="summary"><h2>Summary</h2><div class="summary">{"".join(blocks)}</div>'
        "</section>"
    )


def _rules(result: AuditResult) -> str:
    if not result.rules:
        return ""
    labels = ("pass", "fail", "not_applicable", "unknown", "acknowledged")
    head = "".join(f'<th scope="col">{_label(label)}</th>' for label in labels)
    rows = []
    for rule in result.rules:
        code = rule.code
        counts = result.rule_counts(code)
        cells = "".join(f'<td class="num">{counts[label]}</td>' for label in labels)
        rows.append(
            f'<tr><td class="mono">{_text(code)}</td><td>{_text(rule.title)}</td>'
            f"<td>{_text(rule.severity)}</td><td>{_text(', '.join(rule.levels))}</td>{cells}"
            f'<td class="mono">{_text(rule.file)}:{rule.line}</td></tr>'
        )
    return (
        f'<section id="rules"><h2>Rules</h2><details><summary>All {len(result.rules)} rules '
        'with their outcomes</summary><div class="table-wrap"><table><thead><tr>'
        '<th scope="col">rule</th><th scope="col">title</th><th scope="col">severity</th>'
        f'<th scope="col">levels</th>{head}<th scope="col">source</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div></details></section>"
    )


def _finding_cells(finding: AuditFinding, target: str | None = None) -> str:
    """A finding's cells; `target`, when given, is the target cell's HTML (a drill-down)."""
    status = finding.status.value
    severity = finding.severity
    where = finding.where
    ack = finding.acknowledged
    rule_title = f' title="{_text(finding.rule.title)}"' if finding.rule is not None else ""
    acknowledged = (
        ""
        if ack is None
        else f"{_text(ack.owner)} until {_text(ack.expires)}"
        + (' <span class="expired">(expired)</span>' if ack.expired else "")
    )
    cells = [
        f'<td class="status status-{status}">{status}</td>',
        f"<td>{finding.kind.value}</td>",
        f'<td data-sort="{_severity_rank(severity)}">{_text(severity)}</td>',
        f"<td>{_text(finding.level)}</td>",
        f"<td>{target if target is not None else _text(finding.target.label)}</td>",
        f'<td class="mono">{_text(finding.field_label)}</td>',
        f"<td>{_value_text(finding.actual)}</td>",
        f"<td>{_value_text(finding.expected)}</td>",
        f'<td class="mono"{rule_title}>{_text(finding.rule_code or "")}</td>',
        f"<td>{_text(_lock_note(finding))}</td>",
        f'<td class="mono">{_text(where) if where is not None else ""}</td>',
        f"<td>{acknowledged}</td>",
        f"<td>{_text(finding.message, MESSAGE_CHARS)}</td>",
    ]
    return "".join(cells)


def _finding_row(finding: AuditFinding) -> str:
    return f'<tr data-fingerprint="{_text(finding.fingerprint)}">{_finding_cells(finding)}</tr>'


def _drill_down(rollup: RollUp) -> str:
    """The layer and how many users inherit its failure; opened, a sample of them and the
    counts."""
    assert rollup.layer is not None
    layer = rollup.layer
    users = rollup.inherited
    noun = "user" if users == 1 else "users"
    joined = "and" if rollup.first.target.ref == layer.ref else "inherited by"
    whose = f"of its {noun}" if layer.ref.kind == "group" else f"{noun} with no group"
    listed = [f for f in rollup.sample if f.target.ref != layer.ref]
    items = "".join(f"<li>{_text(finding.target.label)}</li>" for finding in listed)
    left = users - len(listed)
    more = f"<p>{left:,} more not listed here: {JSON_HAS_ALL}.</p>" if left > 0 else ""
    counts = ", ".join(f"{level} {n:,}" for level, n in sorted(rollup.by_level.items()))
    inferred = "".join(
        f'<p class="muted">{count:,} of them inferred from {_text(holder)}, not read.</p>'
        for holder, count in rollup.inferred
    )
    return (
        f'<details class="rollup"><summary>{_text(layer.label)} {joined} {users:,} {whose}'
        f'</summary><p class="muted">{rollup.count:,} findings ({_text(counts)}): each user '
        "holds the layer's value, and no repo line sets it for them.</p>"
        f"{inferred}<ul>{items}</ul>{more}</details>"
    )


def _rollup_row(rollup: RollUp) -> str:
    """A layer's failure and the users who inherit it: one row, the users in its drill-down."""
    if rollup.single or rollup.layer is None:
        return _finding_row(rollup.first)
    cells = _finding_cells(rollup.first, _drill_down(rollup))
    return (
        f'<tr data-fingerprint="{_text(rollup.fingerprint)}" data-count="{rollup.count}">'
        f"{cells}</tr>"
    )


def _capped_rows(rollups: RollUps) -> tuple[list[str], int, int]:
    """The rows that fit ROW_LIMIT and ROWS_BUDGET, and the rows and findings left out."""
    rows: list[str] = []
    used = 0
    for index, rollup in enumerate(rollups):
        row = _rollup_row(rollup)
        size = len(row.encode("utf-8"))
        if len(rows) >= ROW_LIMIT or used + size > ROWS_BUDGET:
            return rows, len(rollups) - index, rollups.count_from(index)
        rows.append(row)
        used += size
    return rows, 0, 0


def _findings_intro(findings: int, rollups: RollUps, left_rows: int, left: int) -> str:
    text = (
        '<p class="muted">Every failed or unjudged rule, every drifted managed field, every '
        "unreadable target, and every acknowledged one of those. Click a column header to sort."
    )
    # A finding of its own has no layer: only the shared roll-ups are looked at.
    shared = rollups.shared()
    layers = sum(1 for rollup in shared if rollup.layer is not None and not rollup.single)
    if layers:
        inherited = sum(rollup.inherited for rollup in shared if rollup.layer is not None)
        text += (
            f" A rule that fails at a layer (the account, a group) and for {inherited:,} users "
            f"who hold that layer's value is one row per layer ({layers:,} such rows): open its "
            "target to see the users."
        )
    text += "</p>"
    if left_rows:
        text += (
            f'<p class="capped-note" id="findings-left-out">{left:,} of the {findings:,} '
            f"findings ({left_rows:,} rows) are not shown, so that the page stays small; "
            f"{JSON_HAS_ALL}.</p>"
        )
    return text


def _findings(result: AuditResult) -> str:
    total = len(result.findings)
    head = "".join(
        f'<th scope="col"><button type="button">{html.escape(name)}</button></th>'
        for name in FINDING_COLUMNS
    )
    columns = "".join(f'<col class="col-{name.replace(" ", "-")}">' for name in FINDING_COLUMNS)
    rollups = roll_up(result, Depth.LAYER, SAMPLE_SIZE)
    shown, left_rows, left = _capped_rows(rollups)
    rows = "".join(shown)
    empty = "" if total else '<p class="muted">No findings.</p>'
    return (
        f'<section id="findings-section"><h2>Findings ({total})</h2>'
        f"{_findings_intro(total, rollups, left_rows, left)}"
        '<div class="search" id="finding-controls" hidden>'
        '<label for="finding-search">Filter findings</label>'
        '<input type="search" id="finding-search" autocomplete="off" spellcheck="false" '
        'placeholder="any text: target, rule, field, message\u2026" '
        'aria-controls="findings">'
        f'<output id="finding-count" for="finding-search" aria-live="polite">{len(shown)} of '
        f"{len(shown)} rows shown</output>"
        '<button type="button" id="finding-show-all" hidden>Show all matching findings</button>'
        f"</div>{empty}"
        f'<div class="table-wrap"><table id="findings" class="capped" '
        f'data-display-limit="{DISPLAY_LIMIT}"><caption class="sr-only">Findings</caption>'
        f"<colgroup>{columns}</colgroup><thead><tr>{head}</tr></thead>"
        f"<tbody>{rows}</tbody></table></div></section>"
    )


def _unreadable(result: AuditResult) -> str:
    targets = result.unknown_targets
    if not targets:
        body = '<p class="muted">Every target was read.</p>'
    else:
        rows = "".join(
            f"<tr><td>{_text(t.ref.kind)}</td><td>{_text(t.label)}</td>"
            f'<td class="mono">{_text(t.ref.id)}</td><td>{_text(t.unknown, MESSAGE_CHARS)}</td>'
            "</tr>"
            for t in targets[:LIST_LIMIT]
        )
        body = (
            '<table><thead><tr><th scope="col">level</th><th scope="col">target</th>'
            '<th scope="col">id</th><th scope="col">cause</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>{_left_out(len(targets), 'targets')}"
        )
    return (
        f'<section id="unreadable"><h2>Unreadable targets ({len(targets)})</h2>'
        '<p class="muted">Their state is unknown: no rule could judge them.</p>'
        f"{body}</section>"
    )


def _left_out(total: int, noun: str) -> str:
    if total <= LIST_LIMIT:
        return ""
    return (
        f'<p class="capped-note">The first {LIST_LIMIT:,} of {total:,} {noun} are listed; '
        f"{JSON_HAS_ALL}.</p>"
    )


def _acknowledgement_row(ack: Acknowledgement) -> str:
    subject = ack.rule if ack.rule is not None else ack.field
    expired = '<span class="expired">expired</span>' if ack.expired else "no"
    return (
        f'<tr><td>{_text(ack.target)}</td><td class="mono">{_text(subject or "")}</td>'
        f"<td>{_text(ack.owner)}</td><td>{_text(ack.reason)}</td><td>{_text(ack.expires)}</td>"
        f'<td>{expired}</td><td class="mono">{_text(ack.where)}</td></tr>'
    )


def _acknowledgements(result: AuditResult) -> str:
    acks = result.acknowledgements
    if not acks:
        body = '<p class="muted">No acknowledgements.</p>'
    else:
        body = (
            '<table><thead><tr><th scope="col">target</th><th scope="col">rule or field</th>'
            '<th scope="col">owner</th><th scope="col">reason</th><th scope="col">expires</th>'
            '<th scope="col">expired</th><th scope="col">source</th></tr></thead>'
            f"<tbody>{''.join(_acknowledgement_row(ack) for ack in acks)}</tbody></table>"
        )
    return f'<section id="acknowledgements"><h2>Acknowledgements ({len(acks)})</h2>{body}</section>'


def _change_row(change: FieldChange) -> str:
    field_name = f"{change.family}.{change.path}" if change.path else change.family
    return (
        f'<tr><td>{_text(change.target)}</td><td class="mono">{_text(change.key)}</td>'
        f'<td class="mono">{_text(field_name)}</td><td>{_value_text(change.before)}</td>'
        f"<td>{_value_text(change.after)}</td></tr>"
    )


def _since(result: AuditResult) -> str:
    since = result.since
    if since is None:
        return ""

    def labels(items: list[str]) -> str:
        return _text(", ".join(items)) if items else f'<span class="none">{NO_VALUE}</span>'

    facts = _facts(
        [
            ("earlier snapshot", f'<span class="mono">{_text(since.snapshot)}</span>'),
            ("taken at", _text(since.taken_at)),
            ("targets compared", str(since.targets_compared)),
            ("targets changed", str(since.targets_changed)),
            ("added", labels(since.added)),
            ("removed", labels(since.removed)),
        ]
    )
    if since.changes:
        rows = "".join(_change_row(change) for change in since.changes[:LIST_LIMIT])
        changes = (
            '<table><caption>Changed fields</caption><thead><tr><th scope="col">target</th>'
            '<th scope="col">key</th><th scope="col">field</th><th scope="col">before</th>'
            f'<th scope="col">after</th></tr></thead><tbody>{rows}</tbody></table>'
            f"{_left_out(len(since.changes), 'changed fields')}"
        )
    else:
        changes = '<p class="muted">No field changed.</p>'
    return (
        f'<section id="since"><h2>Changes since the earlier snapshot</h2>{facts}{changes}</section>'
    )


def _evidence(result: AuditResult) -> str:
    facts = _facts(
        [
            ("account", _text(result.account_id)),
            ("started", _text(result.started_at)),
            ("finished", _text(result.finished_at)),
            ("repo", _text(result.repo_path or NO_VALUE)),
            ("repo commit", f'<span class="mono">{_text(result.repo_commit or NO_VALUE)}</span>'),
            ("tool version", _text(result.tool_version)),
            ("requests sent", str(result.requests_sent)),
        ]
    )
    if result.packs:
        rows = "".join(
            f'<tr><td class="mono">{_text(p.name)}</td><td>{_text(p.title)}</td>'
            f'<td class="mono">{_text(p.file)}</td><td class="mono">{_text(p.sha256)}</td></tr>'
            for p in result.packs
        )
        packs = (
            '<table><caption>Policy packs</caption><thead><tr><th scope="col">pack</th>'
            '<th scope="col">title</th><th scope="col">file</th><th scope="col">sha256</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    else:
        packs = '<p class="muted">No policy packs.</p>'
    snap = result.snapshot
    if snap is None:
        snapshot = '<p class="muted">No snapshot was written.</p>'
    else:
        snapshot = "<h3>Snapshot</h3>" + _facts(
            [
                ("path", f'<span class="mono">{_text(snap.path)}</span>'),
                ("sha256", f'<span class="mono">{_text(snap.sha256)}</span>'),
                ("manifest sha256", f'<span class="mono">{_text(snap.manifest_sha256)}</span>'),
                ("targets", str(snap.targets)),
            ]
        )
    return f'<section id="evidence"><h2>Evidence</h2>{facts}{packs}{snapshot}</section>'


def render(result: AuditResult, fh: TextIO) -> None:
    """Write the audit of `result` to `fh` as one HTML5 document."""
    title = f"Zoom settings audit: {result.account_id}" if result.account_id else "Zoom audit"
    fh.write(
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n<style>{STYLESHEET}</style>\n"
        f"<noscript><style>{NOSCRIPT_STYLESHEET}</style></noscript>\n</head>\n<body>\n"
    )
    # One section at a time: the page is bounded, but all its sections at once doubled it.
    for section in (
        _header, lambda _: "<main>", scorecard_html, _summary, _findings, _unreadable,
        _acknowledgements, _since, _rules, _evidence, lambda _: "</main>",
    ):  # fmt: skip
        text = section(result)
        if text:
            fh.write(text)
            fh.write("\n")
    fh.write(f"<script>{SCRIPT}</script>\n</body>\n</html>\n")
