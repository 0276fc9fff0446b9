"""End to end over a real socket: uvicorn on 127.0.0.1 in a background thread."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx2
import pytest
from click.testing import CliRunner

from reconciler.sandbox import SandboxApp, acme_tenant, create_app, running_sandbox
from reconciler.sandbox.cli import sandbox
from reconciler.sandbox.server import require_loopback

from .conftest import CREDENTIALS, TOKEN_PARAMS, unlimited

SETTINGS = "/v2/users/alice@acme.test/settings"


@pytest.fixture
def served() -> Iterator[tuple[SandboxApp, httpx2.Client]]:
    app = create_app(unlimited(), acme_tenant())
    with running_sandbox(app) as url, httpx2.Client(base_url=url, timeout=5) as client:
        token = client.post("/oauth/token", params=TOKEN_PARAMS, auth=CREDENTIALS).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        yield app, client


def configure(client: httpx2.Client, **changes: object) -> None:
    assert client.patch("/_sandbox/config", json=changes).status_code == 200


def test_settings_round_trip_over_the_socket(served: tuple[SandboxApp, httpx2.Client]) -> None:
    _, client = served
    assert client.patch(SETTINGS, json={"in_meeting": {"chat": False}}).status_code == 204
    answer = client.get(SETTINGS, params={"custom_query_fields": "chat"})
    assert (answer.status_code, answer.json()) == (200, {"in_meeting": {"chat": False}})
    assert answer.headers["content-type"] == "application/json"


def test_dropped_connection_is_a_protocol_error(served: tuple[SandboxApp, httpx2.Client]) -> None:
    _, client = served
    configure(client, faults={"drop": 1.0})
    with pytest.raises(
        httpx2.RemoteProtocolError, match="Server disconnected without sending a response"
    ):
        client.get(SETTINGS)
    configure(client, faults={"drop": 0.0})
    assert client.get(SETTINGS).status_code == 200  # the next connection works


def test_slow_answer_outlasts_the_client_timeout(served: tuple[SandboxApp, httpx2.Client]) -> None:
    _, client = served
    configure(client, faults={"slow": 1.0, "slow_seconds": 1.0})
    with pytest.raises(httpx2.ReadTimeout):
        client.get(SETTINGS, timeout=0.2)
    configure(client, faults={"slow": 0.0})
    assert client.get(SETTINGS).status_code == 200


def test_journal_over_http(served: tuple[SandboxApp, httpx2.Client]) -> None:
    _, client = served
    client.get("/v2/groups", params={"page_size": "2"})
    entries = client.get("/_sandbox/journal").json()["entries"]
    assert [(e["method"], e["path"], e["query"], e["status"]) for e in entries] == [
        ("POST", "/oauth/token", TOKEN_PARAMS, 200),
        ("GET", "/v2/groups", {"page_size": "2"}, 200),
    ]
    assert client.delete("/_sandbox/journal").status_code == 204
    assert client.get("/_sandbox/journal").json() == {"entries": []}


def test_only_loopback_hosts_are_served() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        require_loopback(host)
    for host in ("0.0.0.0", "192.168.1.5", "example.com"):
        with pytest.raises(Exception, match="only listens on loopback"):
            require_loopback(host)


def test_cli_serve_prints_the_environment_and_serves() -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; from reconciler.sandbox.cli import sandbox; sandbox(sys.argv[1:])",
        "serve",
        "--port",
        "0",
        "--rate-limit",
        "off",
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline().strip() for _ in range(5)]
            env = dict(line.removeprefix("export ").split("=", 1) for line in lines)
            assert set(env) == {
                "ZOOM_API_URL",
                "ZOOM_OAUTH_URL",
                "ZOOM_ACCOUNT_ID",
                "ZOOM_CLIENT_ID",
                "ZOOM_CLIENT_SECRET",
            }
            assert env["ZOOM_ACCOUNT_ID"] == "sandbox-account"
            token = httpx2.post(
                env["ZOOM_OAUTH_URL"],
                params={"grant_type": "account_credentials", "account_id": env["ZOOM_ACCOUNT_ID"]},
                auth=(env["ZOOM_CLIENT_ID"], env["ZOOM_CLIENT_SECRET"]),
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            users = httpx2.get(f"{env['ZOOM_API_URL']}/users", headers=auth)
            assert users.json()["total_records"] == 12
        finally:
            process.terminate()


def test_cli_refuses_other_hosts() -> None:
    result = CliRunner().invoke(sandbox, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "only listens on loopback" in result.output
