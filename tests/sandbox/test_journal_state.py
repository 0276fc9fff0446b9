"""The journal, the control routes, and saving / loading the tenant."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2

from reconciler.sandbox import SandboxApp, acme_tenant, create_app, generate_tenant
from reconciler.sandbox.state import load_state, save_state, tenant_to_dict

from .conftest import AppFactory, FakeClock, api_client, unlimited


async def test_journal_records_requests_without_secrets(
    app: SandboxApp, api: httpx2.AsyncClient
) -> None:
    await api.get("/v2/users", params={"page_size": 2})
    await api.patch("/v2/users/bob@acme.test/settings", json={"in_meeting": {"chat": True}})
    await api.get("/v2/users/nobody/settings")
    entries = [entry.as_dict() for entry in app.sandbox.journal.entries()]
    stamp = "2026-01-01T00:00:00.000Z"
    assert entries == [
        {
            "seq": 1,
            "time": stamp,
            "method": "POST",
            "path": "/oauth/token",
            "query": {"grant_type": "account_credentials", "account_id": "sandbox-account"},
            "body": None,
            "status": 200,
        },
        {
            "seq": 2,
            "time": stamp,
            "method": "GET",
            "path": "/v2/users",
            "query": {"page_size": "2"},
            "body": None,
            "status": 200,
        },
        {
            "seq": 3,
            "time": stamp,
            "method": "PATCH",
            "path": "/v2/users/bob@acme.test/settings",
            "query": {},
            "body": {"in_meeting": {"chat": True}},
            "status": 204,
        },
        {
            "seq": 4,
            "time": stamp,
            "method": "GET",
            "path": "/v2/users/nobody/settings",
            "query": {},
            "body": None,
            "status": 404,
        },
    ]
    text = json.dumps(entries)
    assert "sandbox-secret" not in text and "Bearer" not in text


async def test_journal_never_keeps_a_posted_client_secret(
    app: SandboxApp, api: httpx2.AsyncClient
) -> None:
    form = {"grant_type": "account_credentials", "client_secret": "sandbox-secret"}
    await api.post("/oauth/token", data=form)
    await api.post("/oauth/token", json={"client_secret": "sandbox-secret", "other": 1})
    entries = app.sandbox.journal.entries()[-2:]
    assert [e.body for e in entries] == [None, {"other": 1}]
    assert "sandbox-secret" not in json.dumps([e.as_dict() for e in entries])


async def test_journal_over_http(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    await api.get("/v2/groups")
    listed = (await api.get("/_sandbox/journal")).json()["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in listed] == [
        ("POST", "/oauth/token", 200),
        ("GET", "/v2/groups", 200),
    ]
    assert (await api.delete("/_sandbox/journal")).status_code == 204
    assert (await api.get("/_sandbox/journal")).json() == {"entries": []}
    await api.get("/v2/groups")
    assert [e["seq"] for e in (await api.get("/_sandbox/journal")).json()["entries"]] == [3]


async def test_config_over_http(app: SandboxApp, api: httpx2.AsyncClient) -> None:
    config = (await api.get("/_sandbox/config")).json()
    assert config["locked_patch"] == "ignore"
    assert config["rate_limits"] == {"LIGHT": None, "MEDIUM": None, "HEAVY": None}
    changed = await api.patch(
        "/_sandbox/config", json={"locked_patch": "error", "rate_limits": {"MEDIUM": 20}}
    )
    assert changed.status_code == 200
    assert app.sandbox.config.locked_patch == "error"
    assert app.sandbox.config.rate_limits == {"LIGHT": None, "MEDIUM": 20, "HEAVY": None}
    bad = await api.patch("/_sandbox/config", json={"locked_patch": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid config"
    assert bad.json()["detail"][0]["loc"] == ["locked_patch"]
    assert app.sandbox.config.locked_patch == "error"


async def test_state_over_http(api: httpx2.AsyncClient) -> None:
    state = (await api.get("/_sandbox/state")).json()
    assert state == json.loads(json.dumps(tenant_to_dict(acme_tenant())))
    assert [u["email"] for u in state["users"]][:2] == ["alice@acme.test", "bob@acme.test"]


def test_state_round_trip(tmp_path: Path) -> None:
    tenant = generate_tenant(users=300, groups=5, seed=3)
    config = unlimited(locked_patch="error", daily_cap=100)
    save_state(tmp_path / "state.json", tenant, config)
    loaded, loaded_config = load_state(tmp_path / "state.json")
    assert tenant_to_dict(loaded) == tenant_to_dict(tenant)
    assert loaded_config == config
    assert loaded.user("user00042@example.test") is not None


async def test_state_file_is_written_after_each_change(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "state.json"
    app = create_app(unlimited(), acme_tenant(), clock=clock, state_path=path)
    api = await api_client(app)
    assert not path.exists()  # reads alone do not write
    await api.get("/v2/users/bob@acme.test/settings")
    assert not path.exists()
    await api.patch(
        "/v2/users/bob@acme.test/settings", json={"recording": {"local_recording": True}}
    )
    await api.aclose()
    tenant, config = load_state(path)
    restarted = create_app(config, tenant, clock=clock)
    again = await api_client(restarted)
    doc = (await again.get("/v2/users/bob@acme.test/settings")).json()
    await again.aclose()
    assert doc["recording"]["local_recording"] is True
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp files left


async def test_unknown_routes_answer_in_zoom_shape(make_app: AppFactory) -> None:
    api = await api_client(make_app())
    missing = await api.get("/v2/meetings")
    wrong_method = await api.delete("/v2/users")
    await api.aclose()
    assert (missing.status_code, missing.json()) == (
        404,
        {"code": 404, "message": "No API route matches this request."},
    )
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, 405)
