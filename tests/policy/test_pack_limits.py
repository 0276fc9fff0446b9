"""A repo's pack file is hostile input: a pull request names it in the PR workflow.

It is read like every repo file (a regular file inside the repo, nothing followed, bounded), and
its expressions are refused unrun when their text says they could cost too much; one evaluation
over the budget stops the rule for the rest of the run. Each case: the exit code, the one line,
and that Zoom was never asked. Wall-time bounds are generous: the attacks took minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.policy import Outcome
from reconciler.policy import engine as policy_engine
from reconciler.sandbox import SandboxApp
from tests.plan.sandbox_repo import prepare, recording
from tests.policy.helpers import engine_of, rule_text, user

SECRET = "ghs_SECRETSECRET0123456789"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "acme"
PACK = """\
pack: ours
title: Our rules
rules:
  - id: no-chat
    title: Meeting chat is off
    severity: low
    rationale: We keep talk in the meeting.
    levels: [user]
    expr: {expr}
    examples:
      pass: [{{target: {{level: user}}, settings: {{in_meeting: {{chat: false}}}}}}]
      fail: [{{target: {{level: user}}, settings: {{in_meeting: {{chat: true}}}}}}]
"""
CHAT_OFF = "settings.in_meeting.chat == false"
LINK_HINT = "links are refused wherever they point"


def make_repo(root: Path) -> Path:
    """The example repo with its policies replaced by one repo pack, policies/ours.yaml."""
    repo = root / "repo"
    shutil.copytree(EXAMPLE, repo)
    options = repo / "reconciler.yaml"
    text = options.read_text(encoding="utf-8").replace(
        "  - zoom-security-baseline\n", "  - policies/ours.yaml\n"
    )
    options.write_text(text, encoding="utf-8")
    (repo / "policies").mkdir()
    return repo


def write_pack(repo: Path, expr: str) -> None:
    (repo / "policies" / "ours.yaml").write_text(PACK.format(expr=expr), encoding="utf-8")


def run(repo: Path, *args: str) -> tuple[int, str, list[SandboxApp]]:
    apps: list[SandboxApp] = []
    result = CliRunner().invoke(cli, [*args, str(repo)], obj=recording(apps))
    return result.exit_code, result.output, apps


def asked_zoom(apps: list[SandboxApp]) -> list[str]:
    return [entry.path for app in apps for entry in app.sandbox.journal.entries()]


# -- the file -----------------------------------------------------------------------------------


def test_a_repo_pack_as_written_is_read(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    write_pack(repo, CHAT_OFF)
    code, output, _apps = run(repo, "validate")
    assert code == 3  # the rule ran: alice's effective chat is on
    assert output.splitlines()[-1] == "14 policy violations in what the repo asks for"


@pytest.mark.parametrize("command", [["validate"], ["plan", "--sandbox"]])
def test_a_link_to_a_secret_outside_the_repo_is_refused_unread(
    tmp_path: Path, command: list[str]
) -> None:
    outside = tmp_path / "token.yaml"
    outside.write_text(f"https://x-access-token:{SECRET}@github.com\n", encoding="utf-8")
    repo = make_repo(tmp_path)
    (repo / "policies" / "ours.yaml").symlink_to(outside)
    prepare(repo)
    code, output, apps = run(repo, *command)
    assert code == 1
    assert output == (
        "policies/ours.yaml:1:1: is a symbolic link (to outside the repo): a policy pack must be "
        f"a regular file (hint: replace the link with the pack file itself; {LINK_HINT})\n"
        "1 problem in 1 file\n"
    )
    assert SECRET not in output
    assert asked_zoom(apps) == []


def test_a_link_to_dev_zero_is_refused_without_reading_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    (repo / "policies" / "ours.yaml").symlink_to("/dev/zero")
    started = time.monotonic()
    code, output, _apps = run(repo, "validate")
    assert time.monotonic() - started < 30  # it read until memory ran out
    assert code == 1
    assert output.splitlines()[0] == (
        "policies/ours.yaml:1:1: is a symbolic link (to outside the repo): a policy pack must be "
        f"a regular file (hint: replace the link with the pack file itself; {LINK_HINT})"
    )


def test_a_policies_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    repo = make_repo(tmp_path)
    (repo / "policies").rmdir()
    (repo / "policies").symlink_to(elsewhere)
    write_pack(repo, CHAT_OFF)  # written through the link: a real pack, outside the repo
    code, output, _apps = run(repo, "validate")
    assert code == 1
    assert output.splitlines()[0] == (
        "policies/ours.yaml:1:1: policies/ is a symbolic link (to outside the repo): a policy "
        f"pack is read from real folders (hint: replace the link with the folder itself; "
        f"{LINK_HINT})"
    )


def test_a_named_pipe_is_refused_without_waiting_on_it(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    os.mkfifo(repo / "policies" / "ours.yaml")
    # A subprocess, so a hang is a failed test rather than a stuck suite.
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", str(repo)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == (
        "policies/ours.yaml:1:1: is a named pipe (FIFO): a policy pack must be a regular file "
        "(hint: replace it with a regular .yaml file)"
    )


def test_a_pack_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    write_pack(repo, CHAT_OFF)
    pack = repo / "policies" / "ours.yaml"
    with pack.open("a", encoding="utf-8") as fh:
        fh.write("# padding\n" * 60_000)
    size = pack.stat().st_size
    code, output, _apps = run(repo, "validate")
    assert code == 1
    assert output.splitlines()[0] == (
        f"policies/ours.yaml:1:1: the file has {size} bytes, over the limit of 524288 "
        "(hint: split it into two packs)"
    )


# -- the cost of an expression ------------------------------------------------------------------


def _list(size: int) -> str:
    return "[" + ",".join(["1"] * size) + "]"


def expr_refusal(what: str) -> str:
    return (
        f"policies/ours.yaml:9:5: rules[0].expr: is refused unrun: it {what} "
        "(hint: split it into simpler rules, or test fewer values)"
    )


@pytest.mark.parametrize(
    ("expr", "what"),
    [
        # Three deep over 300 elements took 7.6 s; over more, minutes.
        (
            f'"{_list(150)}.all(x, [1].all(y, [2].exists(z, {CHAT_OFF})))"',
            "nests comprehensions 3 deep (.all, .exists, .map, .filter inside one another), "
            "over the 2 an expression may nest",
        ),
        # 4,000 clauses joined by || took 16 s to analyse.
        (
            " || ".join([CHAT_OFF] * 4000),
            "has 147,996 characters, over the 2,000 an expression may have",
        ),
        (
            "(" * 40 + CHAT_OFF + ")" * 40,
            "nests brackets 40 deep, over the 32 an expression may",
        ),
    ],
    ids=["nested-comprehensions", "long", "deep-brackets"],
)
@pytest.mark.parametrize("command", ["validate", "policy"])
def test_a_costly_expression_is_refused_before_it_runs(
    tmp_path: Path, expr: str, what: str, command: str
) -> None:
    repo = make_repo(tmp_path)
    write_pack(repo, expr)
    started = time.monotonic()
    if command == "validate":
        code, output, _apps = run(repo, "validate")
        first = output.splitlines()[0]
    else:
        result = CliRunner().invoke(cli, ["policy", "test", str(repo / "policies/ours.yaml")])
        code, first = result.exit_code, result.output.splitlines()[0]
        first = first.removeprefix(f"{repo}/")
    assert time.monotonic() - started < 10
    assert code == 1
    assert first == expr_refusal(what)


def test_two_comprehensions_deep_is_allowed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path)
    write_pack(repo, f'"{_list(20)}.all(x, [1].exists(y, {CHAT_OFF}))"')
    code, output, _apps = run(repo, "validate")
    assert code == 3  # alice's chat: true fails the rule, which ran
    assert "no-chat (Meeting chat is off) fails" in output


def test_a_rule_over_the_evaluation_budget_is_not_run_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every evaluation takes more than no time, so with a budget of 0 the first one is over it.
    The budget is then raised: a target the rule would pass is still UNKNOWN, with the first
    measurement's reason, so the rule was not run again."""
    engine = engine_of(rule_text())
    monkeypatch.setattr(policy_engine, "EVALUATION_BUDGET", 0.0)
    (first,) = engine.evaluate(user(meeting_security={"waiting_room": False}))
    monkeypatch.setattr(policy_engine, "EVALUATION_BUDGET", 10.0)
    (second,) = engine.evaluate(user(meeting_security={"waiting_room": True}))
    assert (first.outcome, second.outcome) == (Outcome.UNKNOWN, Outcome.UNKNOWN)
    assert first.error == second.error
    assert re.fullmatch(
        r"not judged: one evaluation of p/r1 \(p\.yaml:9\) took \d+\.\d\d s, over the "
        r"0 s budget; simplify its expr",
        first.error or "",
    ), first.error
