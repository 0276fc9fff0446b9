"""The CLI's contract outside any one command's core: credentials, version, help."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler import __version__
from reconciler.cli import cli

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme"


def test_plan_without_credentials_or_sandbox_says_how_to_get_going(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ZOOM_ACCOUNT_ID", "ZOOM_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    done = CliRunner().invoke(cli, ["plan", str(EXAMPLE)])
    assert done.exit_code == 1
    assert done.stderr == (
        "error: Zoom credentials missing: ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET "
        "not set (hint: set ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET from your "
        "Server-to-Server OAuth app, or try --sandbox)\n"
    )
    assert done.stdout == ""


def test_plain_http_to_a_remote_host_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZOOM_ACCOUNT_ID", "a")
    monkeypatch.setenv("ZOOM_CLIENT_ID", "b")
    monkeypatch.setenv("ZOOM_CLIENT_SECRET", "do-not-print-me")
    monkeypatch.setenv("ZOOM_API_URL", "http://zoom.example/v2")
    done = CliRunner().invoke(cli, ["plan", str(EXAMPLE)])
    assert done.exit_code == 1
    assert done.stderr.startswith("error: ZOOM_API_URL='http://zoom.example/v2' is not an https://")
    assert "do-not-print-me" not in done.output


def test_version() -> None:
    done = CliRunner().invoke(cli, ["--version"])
    assert (done.exit_code, done.stdout) == (0, f"reconciler, version {__version__}\n")
