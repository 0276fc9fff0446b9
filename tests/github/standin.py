"""A stand-in for the GitHub REST API on 127.0.0.1 (uvicorn in a thread) that records comments
and issues, and a runner that executes a workflow's `run:` steps the way Actions would: the
job's and step's `env:` with their `${{ }}` expressions filled in, `if:` conditions, step
outputs through `$GITHUB_OUTPUT`, a job that stops at the first failed step (except `always()`).
`uses:` steps are recorded, not run: the tool is already installed in the test's venv, which
stands where the action installs it ($RUNNER_TEMP/reconciler-venv, called by path).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from ruamel.yaml import YAML
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN = "ghs_test_token_never_printed"
ACTIONS_LOGIN = "github-actions[bot]"


@dataclass
class Store:
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    issues: list[dict[str, Any]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    next_id: int = 1000
    # None: the token is an installation token, as Actions' GITHUB_TOKEN is: GET /user answers
    # 403 and what it writes is GitHub's `github-actions[bot]`; else a user's token and login.
    login: str | None = None
    # (status, message): every request is refused so, as GitHub refuses with {"message": ...}.
    refusal: tuple[int, str] | None = None

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    @property
    def author(self) -> dict[str, str]:
        if self.login is None:
            return {"login": ACTIONS_LOGIN, "type": "Bot"}
        return {"login": self.login, "type": "User"}


def github_app(store: Store) -> Starlette:
    async def authorized(request: Request) -> JSONResponse | None:
        store.calls.append(f"{request.method} {request.url.path}")
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return JSONResponse({"message": "Bad credentials"}, status_code=401)
        if store.refusal is not None:
            status, message = store.refusal
            return JSONResponse({"message": message}, status_code=status)
        return None

    async def user(request: Request) -> JSONResponse:
        if (refused := await authorized(request)) is not None:
            return refused
        if store.login is None:
            message = "Resource not accessible by integration"
            return JSONResponse({"message": message}, status_code=403)
        return JSONResponse({"login": store.login, "type": "User"})

    def page(items: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        size = int(request.query_params.get("per_page", 30))
        number = int(request.query_params.get("page", 1))
        return items[(number - 1) * size : number * size]

    async def comments(request: Request) -> JSONResponse:
        if (refused := await authorized(request)) is not None:
            return refused
        number = int(request.path_params["number"])
        thread = store.comments.setdefault(number, [])
        if request.method == "POST":
            body = (await request.json())["body"]
            item = {"id": store.new_id(), "body": body, "user": store.author}
            thread.append(item)
            return JSONResponse(item, status_code=201)
        return JSONResponse(page(thread, request))

    async def comment(request: Request) -> JSONResponse:
        if (refused := await authorized(request)) is not None:
            return refused
        wanted = int(request.path_params["comment_id"])
        for thread in store.comments.values():
            for item in thread:
                if item["id"] == wanted:
                    item["body"] = (await request.json())["body"]
                    return JSONResponse(item)
        return JSONResponse({"message": "Not Found"}, status_code=404)

    async def issues(request: Request) -> JSONResponse:
        if (refused := await authorized(request)) is not None:
            return refused
        if request.method == "POST":
            data = await request.json()
            number = len(store.issues) + len(store.comments) + 1
            item = {"number": number, "state": "open", "user": store.author, **data}
            store.issues.append(item)
            return JSONResponse(item, status_code=201)
        state = request.query_params.get("state", "open")
        label = request.query_params.get("labels")
        found = [
            i for i in store.issues if i["state"] == state and (not label or label in i["labels"])
        ]
        return JSONResponse(page(found, request))

    async def issue(request: Request) -> JSONResponse:
        if (refused := await authorized(request)) is not None:
            return refused
        number = int(request.path_params["number"])
        for item in store.issues:
            if item["number"] == number:
                item.update(await request.json())
                return JSONResponse(item)
        return JSONResponse({"message": "Not Found"}, status_code=404)

    base = "/repos/{owner}/{name}"
    return Starlette(
        routes=[
            Route(base + "/issues/comments/{comment_id:int}", comment, methods=["PATCH"]),
            Route(base + "/issues/{number:int}/comments", comments, methods=["GET", "POST"]),
            Route(base + "/issues/{number:int}", issue, methods=["PATCH"]),
            Route(base + "/issues", issues, methods=["GET", "POST"]),
            Route("/user", user, methods=["GET"]),
        ]
    )


@contextmanager
def served_github() -> Iterator[tuple[Store, str]]:
    store = Store()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(github_app(store), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the GitHub stand-in did not start")
        time.sleep(0.02)
    try:
        yield store, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


# -- running a workflow's steps -------------------------------------------------------------------

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_COMPARISON = re.compile(r"^(.+?)\s*(==|!=)\s*'([^']*)'$")


@dataclass
class StepResult:
    name: str
    ran: bool
    code: int = 0
    stdout: str = ""
    stderr: str = ""
    uses: str | None = None
    id: str | None = None


@dataclass
class JobRun:
    steps: list[StepResult]
    failed: bool

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if name in (s.name, s.id))

    @property
    def output(self) -> str:
        return "".join(s.stdout + s.stderr for s in self.steps)


class Context:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def lookup(self, dotted: str) -> Any:
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return ""
            node = node[part]
        return node

    def evaluate(self, text: str) -> Any:
        text = text.strip()
        if "&&" in text:
            return all(self.evaluate(part) for part in text.split("&&"))
        if "||" in text:  # Actions' `a || b`: the first value that is not empty (or false)
            for part in text.split("||"):
                value = self.evaluate(part)
                if value not in ("", False, None):
                    return value
            return value
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1]
        if text in ("always()", "success()"):
            return True if text == "always()" else not self.values["_failed"]
        if text == "failure()":
            return self.values["_failed"]
        found = _COMPARISON.match(text)
        if found:
            left, operator, right = found.groups()
            value = str(self.evaluate(left))
            return (value == right) if operator == "==" else (value != right)
        if text.startswith("format("):
            raise AssertionError(f"unsupported expression {text}")
        return self.lookup(text)

    def fill(self, text: str) -> str:
        return _EXPRESSION.sub(lambda m: str(self.evaluate(m.group(1))), text)


def run_job(
    workflow: Path,
    *,
    workspace: Path,
    inputs: dict[str, Any],
    github: dict[str, Any],
    env: dict[str, str],
    runner_temp: Path,
    skip: tuple[str, ...] = (),
    installed: bool = True,
    secrets: dict[str, str] | None = None,
) -> JobRun:
    """Run the first job of a reusable workflow, or the steps of a composite action
    (`action.yml`: its `runs.steps`, with `skip` naming steps that are not run, such as the
    install the test's venv has already done). `installed`: the test's venv stands in for the
    action's install at $RUNNER_TEMP/reconciler-venv (a link); without it a step must install."""
    if installed:
        bin_path = runner_temp / "reconciler-venv" / "bin"
        bin_path.mkdir(parents=True, exist_ok=True)
        tool = bin_path / "reconciler"
        if not tool.exists():
            tool.symlink_to(Path(sys.executable).parent / "reconciler")
    document = YAML(typ="safe").load(workflow.read_text())
    if "runs" in document:
        declared = document.get("inputs", {})
        job = {"steps": [s for s in document["runs"]["steps"] if s.get("name") not in skip]}
    else:
        declared = document["on"]["workflow_call"].get("inputs", {})
        job = next(iter(document["jobs"].values()))
    values = {name: spec.get("default", "") for name, spec in declared.items()}
    values.update(inputs)
    context = Context(
        {
            "inputs": values,
            "secrets": dict(secrets or {}),
            "github": github,
            "runner": {"temp": str(runner_temp)},
            "steps": {},
            "_failed": False,
        }
    )
    bin_dir = str(Path(sys.executable).parent)
    base_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "ZOOM_"))},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_ACTIONS": "true",
        "NO_COLOR": "1",
        **env,
    }
    summary = runner_temp / "step_summary.md"
    summary.touch()
    base_env["GITHUB_STEP_SUMMARY"] = str(summary)
    job_env = {k: context.fill(str(v)) for k, v in (job.get("env") or {}).items()}
    results: list[StepResult] = []
    for index, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("id") or step.get("uses") or f"step {index}"
        condition = step.get("if")
        wanted = context.evaluate(str(condition)) if condition else not context.values["_failed"]
        if not wanted or "uses" in step:
            results.append(StepResult(name, False, uses=step.get("uses"), id=step.get("id")))
            if "id" in step:
                outcome = "skipped" if not wanted else "success"
                context.values["steps"][step["id"]] = {"outputs": {}, "outcome": outcome}
            continue
        outputs = runner_temp / f"output-{index}"
        outputs.write_text("")
        step_env = {k: context.fill(str(v)) for k, v in (step.get("env") or {}).items()}
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=workspace,
            env={**base_env, **job_env, **step_env, "GITHUB_OUTPUT": str(outputs)},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        results.append(
            StepResult(name, True, done.returncode, done.stdout, done.stderr, id=step.get("id"))
        )
        if "id" in step:
            found = dict(
                line.split("=", 1) for line in outputs.read_text().splitlines() if "=" in line
            )
            outcome = "success" if done.returncode == 0 else "failure"
            context.values["steps"][step["id"]] = {"outputs": found, "outcome": outcome}
        if done.returncode != 0:
            context.values["_failed"] = True
    return JobRun(results, bool(context.values["_failed"]))


def event_file(folder: Path, event: dict[str, Any]) -> Path:
    path = folder / "event.json"
    path.write_text(json.dumps(event))
    return path
