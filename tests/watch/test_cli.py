"""The command's refusals: each one clear line, exit 1, nothing started."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.errors import ConfigError
from reconciler.watch.run import Listen, _one_watcher, parse_listen


def _watch(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["watch", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_without_the_secret_token_nothing_starts(tmp_path: Path) -> None:
    code, output = _watch(
        str(tmp_path), "--listen", "127.0.0.1:0", env={"ZOOM_WEBHOOK_SECRET_TOKEN": ""}
    )
    assert code == 1
    assert output == (
        "error: ZOOM_WEBHOOK_SECRET_TOKEN is not set: give it the secret token of the Zoom "
        "app's event subscription\n"
    )


def test_a_repo_with_problems_is_named_and_nothing_starts(tmp_path: Path) -> None:
    (tmp_path / "account.yaml").write_text("settings:\n  in_meeting:\n    chat: yes\n")
    code, output = _watch(
        str(tmp_path), "--listen", "127.0.0.1:0", env={"ZOOM_WEBHOOK_SECRET_TOKEN": "s"}
    )
    assert code == 1
    assert "account.yaml:3" in output
    assert output.endswith("the settings repo has 1 problem(s); fix them first\n")


@pytest.mark.parametrize(
    ("text", "listen"),
    [("127.0.0.1:8080", Listen("127.0.0.1", 8080)), ("[::1]:0", Listen("::1", 0))],
)
def test_listen_forms(text: str, listen: Listen) -> None:
    assert parse_listen(text) == listen


@pytest.mark.parametrize("text", ["8080", "127.0.0.1", ":80", "host:http", "h:70000"])
def test_a_listen_without_host_and_port_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=r"is not HOST:PORT"):
        parse_listen(text)


def test_one_watcher_per_repo(tmp_path: Path) -> None:
    with (
        _one_watcher(tmp_path),
        pytest.raises(ConfigError, match="another watcher"),
        _one_watcher(tmp_path),
    ):
        pass
    with _one_watcher(tmp_path):  # released when the first one ended
        pass
