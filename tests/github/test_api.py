"""`reconciler github comment|issue` against the stand-in GitHub API (tests/github/standin.py),
as a hostile repo, PR author or server would try it: a token in GitHub's error message, a
foreign comment or issue carrying the tool's marker, and mentions in what the tool posts."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from reconciler.cli import cli
from tests.github.standin import ACTIONS_LOGIN, TOKEN, Store, served_github

REPOSITORY = "acme/zoom-settings"
MARK = "<!-- reconciler:plan -->"
ZWJ = "\u200d"


def run(api: str, *args: str) -> Result:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": api, "GITHUB_REPOSITORY": REPOSITORY}
    env |= {"GITHUB_EVENT_PATH": "", "GITHUB_RUN_ID": "", "RECONCILER_GITHUB_LOGIN": ""}
    return CliRunner().invoke(cli, ["github", *args], env=env)


def body_file(tmp: Path, text: str) -> Path:
    path = tmp / "body.md"
    path.write_text(text, encoding="utf-8")
    return path


def foreign(store: Store, number: int, body: str) -> None:
    store.comments.setdefault(number, []).append(
        {"id": 500, "body": body, "user": {"login": "mallory", "type": "User"}}
    )


def test_the_token_in_an_error_message_is_redacted_before_the_message_is_cut(
    tmp_path: Path,
) -> None:
    message = "x" * 195 + TOKEN + " and more"  # the token straddles GitHub's 200-character cut
    with served_github() as (store, api):
        store.refusal = (422, message)
        result = run(api, "comment", str(body_file(tmp_path, "hi")), "--pr", "7")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: GET /repos/acme/zoom-settings/issues/7/comments: 422 " + "x" * 195 + "[reda…\n"
    )
    assert TOKEN[: len("ghs_") + 1] not in result.output


def test_a_foreign_comment_with_the_marker_is_left_alone_and_a_new_one_posted(
    tmp_path: Path,
) -> None:
    with served_github() as (store, api):
        foreign(store, 7, f"{MARK}\nmallory's bait")
        result = run(api, "comment", str(body_file(tmp_path, "the plan")), "--pr", "7")
    assert (result.exit_code, result.stdout) == (0, "created comment 1001 on #7\n")
    mallory, bot = {"login": "mallory", "type": "User"}, {"login": ACTIONS_LOGIN, "type": "Bot"}
    assert store.comments[7] == [
        {"id": 500, "body": f"{MARK}\nmallory's bait", "user": mallory},
        {"id": 1001, "body": f"{MARK}\nthe plan", "user": bot},
    ]
    assert not [call for call in store.calls if call.startswith("PATCH")]
    assert "GET /user" in store.calls


def test_the_comment_of_the_same_user_token_is_updated_and_others_are_not(tmp_path: Path) -> None:
    with served_github() as (store, api):
        store.login = "reconciler-bot"
        foreign(store, 7, f"{MARK}\nmallory's bait")
        store.comments[7].append({"id": 501, "body": f"{MARK}\nold", "user": store.author})
        result = run(api, "comment", str(body_file(tmp_path, "new")), "--pr", "7")
    assert (result.exit_code, result.stdout) == (0, "updated comment 501 on #7\n")
    assert [c["body"] for c in store.comments[7]] == [f"{MARK}\nmallory's bait", f"{MARK}\nnew"]
    patches = [call for call in store.calls if call.startswith("PATCH")]
    assert patches == ["PATCH /repos/acme/zoom-settings/issues/comments/501"]


def test_a_foreign_issue_with_the_marker_is_neither_updated_nor_closed(tmp_path: Path) -> None:
    report = tmp_path / "missing.json"
    bait = {
        "number": 1,
        "state": "open",
        "title": "bait",
        "body": "<!-- reconciler:reconcile -->\nmallory's",
        "labels": ["reconciler"],
        "user": {"login": "mallory", "type": "User"},
    }
    with served_github() as (store, api):
        store.issues.append(dict(bait))
        opened = run(api, "issue", "--marker", "reconcile", "--title", "T", "--report",
                     str(report), "--exit-code", "1")  # fmt: skip
        closed = run(api, "issue", "--marker", "reconcile", "--title", "T", "--report",
                     str(report), "--exit-code", "0")  # fmt: skip
    assert (opened.exit_code, opened.stdout) == (0, "issue opened: #2\n")
    assert (closed.exit_code, closed.stdout) == (0, "issue closed: #2\n")
    assert store.issues[0] == bait
    assert [call for call in store.calls if call.startswith("PATCH")] == [
        "PATCH /repos/acme/zoom-settings/issues/2"
    ]


def test_mentions_are_neutralised_in_every_body_and_title_posted(tmp_path: Path) -> None:
    text = "Zoom names: @admin and @org/team (alice@acme.test stays an email)\n"
    report = tmp_path / "missing.json"
    with served_github() as (store, api):
        body = str(body_file(tmp_path, text))
        commented = run(api, "comment", body, "--pr", "7")
        opened = run(api, "issue", "--marker", "audit", "--title", "Ping @admin", "--report",
                     str(report), "--exit-code", "1", "--body-file", body)  # fmt: skip
    assert (commented.exit_code, opened.exit_code) == (0, 0)
    neutral = f"Zoom names: @{ZWJ}admin and @{ZWJ}org/team (alice@acme.test stays an email)\n"
    assert store.comments[7][0]["body"] == f"{MARK}\n{neutral}"
    issue = store.issues[0]
    assert issue["title"] == f"Ping @{ZWJ}admin"
    assert issue["body"] == (
        f"<!-- reconciler:audit -->\nExit 1.\n\nThe run wrote no report: see the run's log.\n\n"
        f"{neutral}\n"
    )


def test_the_github_api_url_is_stripped_then_checked_like_zoom_s(tmp_path: Path) -> None:
    with served_github() as (store, api):
        padded = run(f" {api}\n", "comment", str(body_file(tmp_path, "hi")), "--pr", "7")
        broken = api.replace("//", "//\n")
        inside = run(broken, "comment", str(body_file(tmp_path, "hi")), "--pr", "7")
    assert (padded.exit_code, padded.stdout) == (0, "created comment 1001 on #7\n")
    assert inside.exit_code == 1
    assert inside.stderr == (
        "error: GITHUB_API_URL has a space or control character at character 8 (hint: write the "
        "URL on its own, with nothing before, inside or after it)\n"
    )
    assert len(store.comments[7]) == 1
