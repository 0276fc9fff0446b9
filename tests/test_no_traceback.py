"""No Python traceback ever reaches a user: bad values and unwritable paths are one line and
exit 1, from the real entry point (`python -m reconciler`), each within a bounded time."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme"
DEADLINE = 60  # seconds; every case must end long before


def reconciler(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        check=False,
    )


def one_line_error(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if not line.startswith(("Usage:", "Try "))]
    lines = [line for line in lines if line.strip()]
    assert len(lines) == 1, done.stderr
    assert expected in lines[0], lines[0]


@pytest.fixture
def acme(tmp_path: Path) -> Path:
    repo = tmp_path / "acme"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns(".reconciler"))
    return repo


def test_plan_out_to_an_unwritable_place(acme: Path) -> None:
    done = reconciler("plan", acme, "--sandbox", "--out", "/proc/x.json")
    one_line_error(done, "error: cannot save the plan to /proc/x.json: No such file or directory")
    assert done.stdout.startswith("account\n")  # the plan itself was shown first


def test_schema_out_to_an_unwritable_place() -> None:
    done = reconciler("schema", "--out", "/proc/nope")
    one_line_error(done, "error: cannot write the schemas to /proc/nope: No such file or directory")


def test_apply_audit_log_on_an_unwritable_path(acme: Path) -> None:
    done = reconciler("apply", acme, "--sandbox", "--yes", "--audit-log", "/proc/audit.log")
    one_line_error(done, "cannot write the audit log /proc/audit.log")
    assert "Apply summary" not in done.stdout  # refused before anything was read


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[]", "not a reconciler plan (the file holds no JSON object)"),
        ('"x"', "not a reconciler plan (the file holds no JSON object)"),
        ("null", "not a reconciler plan (the file holds no JSON object)"),
        ("[" * 100_000 + "]" * 100_000, "the saved plan is not JSON"),
        ("{not json", "the saved plan is not JSON"),
    ],
)
def test_plan_files_that_are_not_plans(
    acme: Path, tmp_path: Path, content: str, message: str
) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text(content)
    done = reconciler("apply", acme, "--sandbox", "--plan", saved, "--yes")
    one_line_error(done, message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latency-ms", "-5"], "Invalid value for '--latency-ms'"),
        (["--daily-cap", "-1"], "Invalid value for '--daily-cap'"),
        (["--users", "-3"], "Invalid value for '--users'"),
        (["--users", "500", "--tenant", "acme"], "--users shapes a generated tenant"),
        (["--state", "/nonexistent/dir/x.json"], "cannot write --state /nonexistent/dir/x.json"),
    ],
)
def test_sandbox_serve_refuses_bad_values(args: list[str], message: str) -> None:
    one_line_error(reconciler("sandbox", "serve", *args), message)


def test_sandbox_serve_on_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = reconciler("sandbox", "serve", "--port", str(port))
    one_line_error(done, f"cannot listen on 127.0.0.1:{port}")


def test_an_existing_state_file_is_not_silently_overridden(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({}))
    done = reconciler("sandbox", "serve", "--state", state, "--tenant", "generated")
    one_line_error(done, f"--state {state} exists and holds its own tenant")


def test_a_damaged_sandbox_state_is_one_line(acme: Path) -> None:
    state = acme / ".reconciler" / "sandbox.json"
    state.parent.mkdir()
    state.write_text(json.dumps({"format": "reconciler-sandbox-state/1", "tenant": 5}))
    done = reconciler("plan", acme, "--sandbox")
    one_line_error(done, "the sandbox state is damaged (KeyError); delete it to start over")


def test_an_unexpected_error_is_one_line_unless_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A bug in a command (here: `schema` made to raise) must not show a stack by default.
    import reconciler.cli as entry  # noqa: PLC0415

    def broken(out: Path) -> list[Path]:
        raise RuntimeError("boom")

    monkeypatch.setattr(entry, "write_schemas", broken)
    for args, traceback_shown in ((["schema"], False), (["--debug", "schema"], True)):
        monkeypatch.setattr(sys, "argv", ["reconciler", *args])
        with pytest.raises(SystemExit) as ended:
            entry.main()
        assert ended.value.code == 1
        err = capsys.readouterr().err
        assert ("Traceback" in err) is traceback_shown
        if not traceback_shown:
            assert err == (
                "error: unexpected RuntimeError: boom (a bug; run again with --debug for the "
                "traceback)\n"
            )
