"""The HTML audit report, opened in a real headless Chromium (Debian's, driven by Playwright).

The report must work as a file on its own: no request but the file, no console or page error
(a Content-Security-Policy violation would be one, so the script's and stylesheet's hashes are
checked by the browser itself), every finding a row, the search box and the sortable headers
working, and a target named like markup shown as text with nothing injected running. A
screenshot of the sample report goes to test-artifacts/audit-report.png for a human to look at.

Without a `chromium` binary the browser tests skip (`apt-get install chromium`); the parser
test below them still checks what can be checked without a browser.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from reconciler.audit.model import (
    AuditFinding,
    AuditResult,
    AuditTarget,
    FindingKind,
    FindingStatus,
    RuleOutcome,
    Where,
)
from reconciler.audit.rollup import Depth, roll_up
from reconciler.policy import load_shipped
from reconciler.render import audit_html
from reconciler.targets import TargetRef
from tests.audit.layered import layered
from tests.audit.sample import ACK, sample

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO_ROOT / "test-artifacts" / "audit-report.png"
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
INSTALL_HINT = (
    "no chromium binary on PATH or at /usr/bin/chromium: the HTML report's browser tests need "
    "one; install it with `sudo apt-get install chromium` (Debian/Ubuntu), then rerun"
)
HOSTILE_EMAIL = 'x"><img src=x onerror="window.__pwned=1">@acme.test'
HOSTILE_MESSAGE = "</td></tr></table><script>window.__pwned = 2</script><b>bold</b>"
FINDINGS_ROWS = "#findings tbody tr"
SEARCH = "#finding-search"


def rendered(result: AuditResult) -> str:
    out = io.StringIO()
    audit_html.render(result, out)
    return out.getvalue()


def many_findings(users: int = 600) -> AuditResult:
    """`users` users with one finding each, every kind, status and severity among them, plus a
    user whose email and finding message are markup."""
    pack = load_shipped("zoom-security-baseline")
    user_rules = [rule for rule in pack.rules if "user" in rule.levels]
    targets = [AuditTarget(TargetRef("account", "me"), managed=True)]
    findings: list[AuditFinding] = []
    for index in range(users):
        unreadable = index % 10 == 9
        target = AuditTarget(
            TargetRef("user", f"u-{index:03d}", email=f"u-{index:03d}@acme.test"),
            (f"team-{index % 4:02d}",),
            managed=index % 2 == 0,
            unknown="503 Zoom is unavailable" if unreadable else None,
        )
        targets.append(target)
        rule = user_rules[index % len(user_rules)]
        where = Where(f"users/u-{index:03d}.yaml", index % 40 + 1, 3)
        if unreadable:
            finding = AuditFinding(
                FindingKind.READ, FindingStatus.UNKNOWN, target, None, None,
                "the read failed: 503 Zoom is unavailable",
            )  # fmt: skip
        elif index % 3 == 0:
            finding = AuditFinding(
                FindingKind.DRIFT, FindingStatus.DRIFT, target, "settings", "in_meeting.chat",
                "Zoom has false, the repo asks for true", where, actual=False, expected=True,
            )  # fmt: skip
        else:
            status = (FindingStatus.FAIL, FindingStatus.ACKNOWLEDGED)[index % 3 - 1]
            finding = AuditFinding(
                FindingKind.POLICY, status, target, "meeting_security", "waiting_room",
                f"{rule.id} fails", where, actual={"waiting_room": False, "n": index},
                expected=True, rule=rule,
                acknowledged=ACK if status is FindingStatus.ACKNOWLEDGED else None,
            )  # fmt: skip
        findings.append(finding)
    hostile = AuditTarget(TargetRef("user", "u-hostile", email=HOSTILE_EMAIL), ("team-00",))
    targets.append(hostile)
    findings.append(
        AuditFinding(
            FindingKind.POLICY, FindingStatus.FAIL, hostile, "meeting_security", "waiting_room",
            HOSTILE_MESSAGE, actual="<script>window.__pwned = 3</script>", expected=True,
            rule=user_rules[0],
        )
    )  # fmt: skip
    result = AuditResult(
        account_id="big-account",
        started_at="2026-12-02T10:00:00+00:00",
        finished_at="2026-12-02T10:01:00+00:00",
        repo_commit="f" * 40,
        tool_version="0.1.0",
        rules=list(pack.rules),
        targets=targets,
        findings=findings,
    )
    by_code = {f.rule_code: f for f in findings if f.rule_code}
    for rule in pack.rules:
        code = f"{rule.pack}/{rule.id}"
        row = bytearray(len(targets))
        for index, target in enumerate(targets):
            if target.ref.kind in rule.levels:
                row[index] = RuleOutcome.UNKNOWN if target.unknown else RuleOutcome.PASS
        if code in by_code:
            row[1] = RuleOutcome.FAIL
        result.outcomes[code] = row
    return result


# -- without a browser --------------------------------------------------------------------------


class _Document(HTMLParser):
    """What the checks below need from a page: every tag's attributes and the scripts' text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = tag
            (self.scripts if tag == "script" else self.styles).append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "script":
            self.scripts[-1] += data
        elif self._open == "style":
            self.styles[-1] += data


class _Rows(HTMLParser):
    """The findings rows' fingerprints and roll-up counts, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.fingerprints: list[str] = []
        self.counts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-fingerprint"):
            self.fingerprints.append(str(found["data-fingerprint"]))
            if found.get("data-count"):
                self.counts.append(str(found["data-count"]))


def _csp_source(text: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


def test_the_report_loads_nothing_and_allows_only_its_own_script_and_style() -> None:
    page = rendered(sample())
    document = _Document()
    document.feed(page)
    document.close()
    linking = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data"}
    for tag, attrs in document.tags:
        for name, value in attrs.items():
            if name in linking:
                target = (value or "").strip().lower()
                assert not target.startswith(("http:", "https:", "//")), (tag, name, value)
    assert not any(tag in ("link", "img", "iframe", "object", "embed") for tag, _ in document.tags)
    policies = [
        attrs.get("content") or ""
        for tag, attrs in document.tags
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy"
    ]
    assert len(policies) == 1
    directives: dict[str, str] = {}
    for part in policies[0].split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    assert directives["default-src"] == "'none'"
    assert len(document.scripts) == 1
    assert directives["script-src"] == _csp_source(document.scripts[0])
    assert directives["style-src"].split() == [_csp_source(style) for style in document.styles]
    assert not any("src" in attrs for tag, attrs in document.tags if tag == "script")
    assert not any(name.startswith("on") for _, attrs in document.tags for name in attrs)
    # The markup in a target's email arrives as text.
    assert 'eve<script>"x"@acme.test' not in page
    assert "eve&lt;script&gt;&quot;x&quot;@acme.test" in page
    assert rendered(sample()) == page  # deterministic


# -- in the browser -----------------------------------------------------------------------------


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    if DEBIAN_CHROMIUM.is_file() and os.access(DEBIAN_CHROMIUM, os.X_OK):
        return str(DEBIAN_CHROMIUM)
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        pytest.skip(INSTALL_HINT)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class OpenReport:
    page: Any
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def visible_fingerprints(self) -> list[str]:
        return list(
            self.page.eval_on_selector_all(
                FINDINGS_ROWS,
                "rows => rows.filter(r => !r.hidden).map(r => r.dataset.fingerprint)",
            )
        )

    def column(self, index: int) -> list[str]:
        return list(
            self.page.eval_on_selector_all(
                FINDINGS_ROWS, f"rows => rows.map(r => r.cells[{index}].textContent)"
            )
        )

    def search(self, text: str) -> list[str]:
        self.page.fill(SEARCH, text)
        return self.visible_fingerprints()

    def clean(self) -> None:
        """Nothing went wrong in the page, and nothing but the file was requested."""
        assert self.errors == []
        assert self.requests == [self.url]


@pytest.fixture
def open_report(browser: Any, tmp_path: Path) -> Iterator[Any]:
    pages: list[Any] = []

    def opener(result: AuditResult, name: str = "audit.html") -> OpenReport:
        path = tmp_path / name
        path.write_text(rendered(result), encoding="utf-8")
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        pages.append(page)
        report = OpenReport(page, path.as_uri())
        page.on(
            "console",
            lambda message: (
                report.errors.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda error: report.errors.append(f"page: {error}"))
        page.on("request", lambda request: report.requests.append(request.url))
        page.goto(report.url, wait_until="load")
        return report

    yield opener
    for page in pages:
        page.close()


def test_the_sample_report_in_chromium(open_report: Any) -> None:
    result = sample()
    report = open_report(result)
    page = report.page
    fingerprints = [finding.fingerprint for finding in result.findings]
    assert report.visible_fingerprints() == fingerprints
    assert page.text_content("#finding-count") == f"{len(fingerprints)} of 8 rows shown"

    bob = [f.fingerprint for f in result.findings if f.target.ref.email == "bob@acme.test"]
    assert bob
    assert report.search("bob@acme.test") == bob
    assert report.search("  BOB@Acme.TEST ") == bob  # case-insensitive, trimmed
    assert page.text_content("#finding-count") == f"{len(bob)} of 8 rows shown"
    assert report.search("zz-no-such-text-qq") == []
    assert page.text_content("#finding-count") == "0 of 8 rows shown"
    assert report.search("") == fingerprints

    # The email that is markup is text in its cell, and no element came of it.
    eve = next(f for f in result.findings if f.target.ref.id == "u-eve")
    eve_row = page.locator(f'tr[data-fingerprint="{eve.fingerprint}"]')
    assert eve_row.locator("td").nth(4).text_content() == 'user eve<script>"x"@acme.test'
    assert page.locator("script").count() == 1
    assert report.search('eve<script>"x"') == [eve.fingerprint]
    report.search("")

    # Sorting by severity (low first), then again (critical first); ties keep their order.
    severity = page.locator("#findings thead th").nth(2)
    severity.locator("button").click()
    assert severity.get_attribute("aria-sort") == "ascending"
    ranks = {"low": 1, "medium": 2, "high": 3, "critical": 4}
    expected = sorted(result.findings, key=lambda f: ranks[f.severity])
    assert report.visible_fingerprints() == [f.fingerprint for f in expected]
    severity.locator("button").click()
    assert severity.get_attribute("aria-sort") == "descending"
    expected = sorted(result.findings, key=lambda f: -ranks[f.severity])
    assert report.visible_fingerprints() == [f.fingerprint for f in expected]
    target = page.locator("#findings thead th").nth(4)
    target.locator("button").click()
    assert target.get_attribute("aria-sort") == "ascending"
    assert severity.get_attribute("aria-sort") is None
    labels = report.column(4)
    assert labels == sorted(labels, key=str.casefold)

    # The sections an auditor needs are there, the charts readable as text.
    for section in ("summary", "unreadable", "acknowledgements", "since", "evidence"):
        assert page.locator(f"#{section}").count() == 1, section
    assert "404 user does not exist" in page.text_content("#unreadable")
    assert "expired" in page.text_content("#acknowledgements")
    assert "cd" * 32 in page.text_content("#evidence")
    assert page.locator("svg.chart[role=img] > title").count() >= 4
    assert "fail: 2" in (page.text_content("#chart-result-desc") or "")

    # The scorecard comes first: the baseline is no benchmark, so a row per rule, by status.
    card_box, summary_box = page.locator("#scorecard").bounding_box(), page.locator("#summary")
    assert card_box["y"] < summary_box.bounding_box()["y"]
    statuses = page.eval_on_selector_all(
        "#scorecard tbody tr", "rows => rows.map(r => [r.dataset.item, r.dataset.status])"
    )
    assert [item for item, _status in statuses] == [rule.id for rule in result.rules]
    found = dict(statuses)
    assert (found["zsb-waiting-room"], found["zsb-lobby-locked"]) == ("fail", "not_applicable")
    assert found["zsb-user-keeps-waiting-room"] == "fail"
    cells = page.locator('#scorecard tr[data-item="zsb-waiting-room"] td').all_text_contents()
    assert cells == [
        "zsb-waiting-room", "The waiting room is on by default", "fail", "1 pass", "1 fail", "-",
        "groups' values", "the group's file, locked",
    ]  # fmt: skip
    user_cells = page.locator('#scorecard tr[data-item="zsb-user-keeps-waiting-room"] td')
    assert user_cells.all_text_contents()[3:] == [
        "-", "-", "1 fail, 2 unknown, 1 acknowledged", "per-user", "the group's file, locked",
    ]  # fmt: skip

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report.clean()


def test_a_report_of_601_findings_shows_500_then_all_and_filters_and_sorts(
    open_report: Any,
) -> None:
    result = many_findings()
    report = open_report(result, "big.html")
    page = report.page
    fingerprints = [finding.fingerprint for finding in result.findings]
    assert len(set(fingerprints)) == len(fingerprints) == 601
    all_rows = page.eval_on_selector_all(
        FINDINGS_ROWS, "rows => rows.map(r => r.dataset.fingerprint)"
    )
    assert all_rows == fingerprints
    # The first DISPLAY_LIMIT rows are shown, and a button shows the rest.
    limit = audit_html.DISPLAY_LIMIT
    assert report.visible_fingerprints() == fingerprints[:limit]
    assert page.text_content("#finding-count") == (
        f"{limit} of 601 rows shown (the first {limit} of 601 that match)"
    )
    assert page.is_visible("#finding-show-all")

    one = [f.fingerprint for f in result.findings if f.target.ref.email == "u-042@acme.test"]
    assert report.search("U-042@ACME.TEST") == one
    assert not page.is_visible("#finding-show-all")
    drift = [f.fingerprint for f in result.findings if f.kind is FindingKind.DRIFT]
    assert 0 < len(drift) < limit
    assert report.search("in_meeting.chat") == drift
    assert report.search("no such finding anywhere") == []
    assert page.text_content("#finding-count") == "0 of 601 rows shown"
    assert report.search("") == fingerprints[:limit]
    page.click("#finding-show-all")
    assert report.visible_fingerprints() == fingerprints
    assert page.text_content("#finding-count") == "601 of 601 rows shown"
    assert not page.is_visible("#finding-show-all")

    # Sorting by target, ascending then descending.
    target = page.locator("#findings thead th").nth(4)
    target.locator("button").click()
    by_label = sorted(result.findings, key=lambda f: f.target.label.casefold())
    assert report.visible_fingerprints() == [f.fingerprint for f in by_label]
    target.locator("button").click()
    assert target.get_attribute("aria-sort") == "descending"
    assert report.visible_fingerprints() == [f.fingerprint for f in reversed(by_label)]
    # A filter still applies to the sorted rows.
    assert report.search("u-29") == [
        f.fingerprint for f in reversed(by_label) if "u-29" in f.target.label
    ]

    # Nothing that was markup became an element, and no injected script ran.
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("script").count() == 1
    assert page.locator("#findings img, #findings b, [onerror]").count() == 0
    hostile = page.locator(f'tr[data-fingerprint="{result.findings[-1].fingerprint}"]')
    assert hostile.locator("td").nth(4).text_content() == f"user {HOSTILE_EMAIL}"
    assert hostile.locator("td").nth(12).text_content() == HOSTILE_MESSAGE
    report.clean()


# -- roll-ups and caps --------------------------------------------------------------------------


def test_over_the_row_cap_the_page_says_how_many_findings_it_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit_html, "ROW_LIMIT", 100)
    result = many_findings()
    page = rendered(result)
    rows = _Rows()
    rows.feed(page)
    assert rows.fingerprints == [finding.fingerprint for finding in result.findings[:100]]
    assert (
        '<p class="capped-note" id="findings-left-out">501 of the 601 findings (501 rows) are '
        "not shown, so that the page stays small; the JSON report (<code>--format json</code>, "
        "or audit.json in an evidence folder) lists every one.</p>"
    ) in page
    assert "<h2>Findings (601)</h2>" in page


def test_the_unreadable_targets_are_listed_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_html, "LIST_LIMIT", 10)
    page = rendered(many_findings())
    section = page[page.index('<section id="unreadable">') :]
    section = section[: section.index("</section>")]
    assert section.count("<tr><td>user</td>") == 10
    assert "The first 10 of 60 targets are listed; the JSON report" in section


def test_a_layer_roll_up_is_one_row(monkeypatch: pytest.MonkeyPatch) -> None:
    result = layered(loose=30)
    page = rendered(result)
    rows = _Rows()
    rows.feed(page)
    rollups = roll_up(result, Depth.LAYER, audit_html.SAMPLE_SIZE)
    assert rows.fingerprints == [rollup.fingerprint for rollup in rollups]
    assert [rollup.count for rollup in rollups] == [31, 4, 1, 1]
    assert rows.counts == ["31", "4"]
    assert (
        '<details class="rollup"><summary>account and 30 users with no group</summary>'
        '<p class="muted">31 findings (account 1, user 30): each user holds the layer'
        "'s "
        "value, and no repo line sets it for them.</p><ul><li>user a1@acme.test</li>"
    ) in page
    assert "<p>21 more not listed here: the JSON report" in page


def test_a_roll_ups_drill_down_opens_on_its_sample_and_search_finds_it(open_report: Any) -> None:
    result = layered(loose=30)
    rollups = roll_up(result, Depth.LAYER, audit_html.SAMPLE_SIZE)
    report = open_report(result, "layered.html")
    page = report.page
    assert report.visible_fingerprints() == [rollup.fingerprint for rollup in rollups]
    assert page.text_content("#finding-count") == "4 of 4 rows shown"  # 37 findings
    row = page.locator(f'tr[data-fingerprint="{rollups[0].fingerprint}"]')
    details = row.locator("details.rollup")
    assert details.locator("summary").text_content() == "account and 30 users with no group"
    assert not details.locator("li").first.is_visible()  # closed until opened
    details.locator("summary").click()
    assert details.get_attribute("open") == ""
    shown = details.locator("li").all_text_contents()
    assert shown == [f"user a{n}@acme.test" for n in range(1, 10)]
    assert details.locator("li").first.is_visible()
    assert "20 more not listed here" not in (details.text_content() or "")
    assert "21 more not listed here: the JSON report" in (details.text_content() or "")
    # A sampled user is found in the roll-up's row; one not in the sample is in no row.
    assert report.search("a7@acme.test") == [rollups[0].fingerprint]
    assert report.search("a25@acme.test") == []
    assert report.search("s2@acme.test") == [rollups[1].fingerprint]
    report.clean()
