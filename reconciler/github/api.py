"""The little of GitHub's REST API the workflows need: a sticky pull-request comment, and one
issue per flow that is opened or updated when a run needs attention and closed when it is clean.

Both are found by a hidden marker (`<!-- reconciler:NAME -->`) in their body, so a second run
updates the first run's comment or issue instead of adding another; only one this token's identity
wrote is ever edited (anyone can paste the marker into a comment). The token comes from the
environment and never appears in output: errors name the request and GitHub's status and message,
the token redacted before the message is cut. Every text posted has its `@` mentions neutralised.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

from reconciler.errors import ConfigError, ReconcilerError
from reconciler.escape import unmentioned
from reconciler.zoom.answers import Redactor
from reconciler.zoom.config import require_safe_url

DEFAULT_API = "https://api.github.com"
COMMENT_LIMIT = 65_536
ISSUE_LABEL = "reconciler"
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_MARKER_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,100}")
_MAX_PAGES = 50  # 5,000 comments or issues: far past any real thread
_MAX_BODY = 4 * 1024 * 1024
_MESSAGE_CHARS = 200
# Who Actions' GITHUB_TOKEN (an installation token, which GET /user refuses) writes as.
ACTIONS_LOGIN = "github-actions[bot]"


class GitHubError(ReconcilerError):
    """GitHub refused a request, or answered something that is not what the API documents."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def marker(name: str) -> str:
    if not _MARKER_NAME.fullmatch(name):
        raise ConfigError(
            f"--marker {name!r}: use letters, digits and _ . : / - (up to 100)",
            hint="e.g. plan, reconcile, audit:settings",
        )
    return f"<!-- reconciler:{name} -->"


@dataclass(frozen=True)
class Context:
    api_url: str
    repository: str
    token: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Context:
        env = os.environ if env is None else env
        token = env.get("GITHUB_TOKEN", "")
        if not token:
            raise ConfigError(
                "GITHUB_TOKEN is not set", hint="pass it to the step: env: GITHUB_TOKEN: ..."
            )
        repository = env.get("GITHUB_REPOSITORY", "")
        if not _REPOSITORY.fullmatch(repository):
            raise ConfigError(
                f"GITHUB_REPOSITORY {repository!r} is not OWNER/NAME",
                hint="run inside GitHub Actions, or set GITHUB_REPOSITORY",
            )
        api_url = (env.get("GITHUB_API_URL", "").strip() or DEFAULT_API).rstrip("/")
        require_safe_url("GITHUB_API_URL", api_url)  # the same rule as Zoom's URLs
        return cls(api_url, repository, token)


class GitHub:
    def __init__(self, context: Context, transport: httpx2.BaseTransport | None = None) -> None:
        self.context = context
        self._redact = Redactor([context.token])
        self._login: str | None = None
        self._http = httpx2.Client(
            base_url=context.api_url,
            headers={
                "Authorization": f"Bearer {context.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "reconciler",
            },
            timeout=30.0,
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- requests ---------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        what = f"{method} {path}"
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx2.HTTPError as error:
            raise GitHubError(f"{what}: {type(error).__name__}") from None
        if answer.status_code >= 400:
            status = answer.status_code
            raise GitHubError(f"{what}: {status} {self._message(answer)}", status)
        if len(answer.content) > _MAX_BODY:
            raise GitHubError(f"{what}: the answer is over {_MAX_BODY} bytes")
        try:
            return answer.json() if answer.content else None
        except ValueError:
            raise GitHubError(f"{what}: the answer is not JSON") from None

    def _message(self, answer: httpx2.Response) -> str:
        try:
            message = str(answer.json().get("message", ""))
        except (ValueError, AttributeError):
            message = ""
        return self._redact.shown(message, _MESSAGE_CHARS)  # redacted first, then cut

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for page in range(1, _MAX_PAGES + 1):
            items = self._call("GET", path, params={**params, "per_page": 100, "page": page})
            if not isinstance(items, list):
                raise GitHubError(f"GET {path}: expected a list")
            for item in items:
                if not isinstance(item, dict):
                    raise GitHubError(f"GET {path}: expected objects in the list")
                yield item
            if len(items) < 100:
                return

    def _repo(self, tail: str) -> str:
        return f"/repos/{self.context.repository}{tail}"

    # -- who we are -------------------------------------------------------------------------------

    def login(self) -> str:
        """The login this token writes as: GET /user's for a user's token; an installation token
        (Actions' GITHUB_TOKEN, refused by GET /user with 403) writes as `github-actions[bot]`,
        or as RECONCILER_GITHUB_LOGIN when another app's token is used (`SLUG[bot]`)."""
        if self._login is None:
            self._login = os.environ.get("RECONCILER_GITHUB_LOGIN") or self._user_login()
        return self._login

    def _user_login(self) -> str:
        try:
            found = self._call("GET", "/user")
        except GitHubError as error:
            if error.status == 403:
                return ACTIONS_LOGIN
            raise
        login = found.get("login") if isinstance(found, dict) else None
        if not isinstance(login, str) or not login:
            raise GitHubError("GET /user: the answer has no login")
        return login

    def _ours(self, item: dict[str, Any]) -> bool:
        """Whether this token's identity wrote `item` (a comment or an issue)."""
        user = item.get("user")
        return isinstance(user, dict) and user.get("login") == self.login()

    # -- the sticky comment -----------------------------------------------------------------------

    def upsert_comment(self, number: int, name: str, text: str) -> tuple[str, int]:
        """Update the pull request's comment with the marker, or add one: ("updated"|"created",
        comment id)."""
        mark = marker(name)
        body = fit(mark, text)
        for comment in self._pages(self._repo(f"/issues/{number}/comments"), {}):
            if mark in str(comment.get("body", "")) and self._ours(comment):
                comment_id = _id(comment)
                self._call(
                    "PATCH", self._repo(f"/issues/comments/{comment_id}"), json={"body": body}
                )
                return "updated", comment_id
        created = self._call("POST", self._repo(f"/issues/{number}/comments"), json={"body": body})
        return "created", _id(created)

    # -- the flow's issue -------------------------------------------------------------------------

    def find_issue(self, name: str) -> dict[str, Any] | None:
        mark = marker(name)
        params = {"state": "open", "labels": ISSUE_LABEL}
        for issue in self._pages(self._repo("/issues"), params):
            if "pull_request" in issue or mark not in str(issue.get("body", "")):
                continue
            if self._ours(issue):
                return issue
        return None

    def open_issue(self, name: str, title: str, text: str) -> tuple[str, int]:
        body = fit(marker(name), text)
        title = unmentioned(title)
        found = self.find_issue(name)
        if found is not None:
            number = _number(found)
            self._call(
                "PATCH", self._repo(f"/issues/{number}"), json={"title": title, "body": body}
            )
            return "updated", number
        created = self._call(
            "POST",
            self._repo("/issues"),
            json={"title": title, "body": body, "labels": [ISSUE_LABEL]},
        )
        return "opened", _number(created)

    def close_issue(self, name: str, note: str) -> tuple[str, int | None]:
        found = self.find_issue(name)
        if found is None:
            return "none open", None
        number = _number(found)
        posted = {"body": unmentioned(note)}
        self._call("POST", self._repo(f"/issues/{number}/comments"), json=posted)
        self._call("PATCH", self._repo(f"/issues/{number}"), json={"state": "closed"})
        return "closed", number


def fit(mark: str, text: str, limit: int = COMMENT_LIMIT) -> str:
    """The marker and the text (mentions neutralised), cut to GitHub's limit with a note when it
    is longer."""
    body = f"{mark}\n{unmentioned(text)}"
    if len(body) <= limit:
        return body
    note = "\n\n**Cut to GitHub's comment limit; the full report is in the run's artifacts.**\n"
    return body[: limit - len(note)] + note


def _id(item: Any) -> int:
    found = item.get("id") if isinstance(item, dict) else None
    if not isinstance(found, int) or isinstance(found, bool):
        raise GitHubError("GitHub's answer has no comment id")
    return found


def _number(item: Any) -> int:
    found = item.get("number") if isinstance(item, dict) else None
    if not isinstance(found, int) or isinstance(found, bool):
        raise GitHubError("GitHub's answer has no issue number")
    return found
