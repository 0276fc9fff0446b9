"""Check the sandbox against Zoom's own OpenAPI spec with schemathesis.

Starts the sandbox (uvicorn on 127.0.0.1, rate limits off, no faults), takes Zoom's spec,
keeps only the endpoints the sandbox emulates, points it at the sandbox, and runs schemathesis
with the response-conformance checks (documented status codes, content type, response schema,
documented headers, no 5xx). Exits non-zero on any answer that contradicts the spec.

    python scripts/schemathesis_sandbox.py [--specs DIR] [--max-examples N] [--seed S]

A few places where Zoom's spec cannot be checked literally are adjusted before the run; each
adjustment is printed with its reason (see `ADJUSTMENTS`).
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx2

from reconciler.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SandboxConfig,
    create_app,
    generate_tenant,
    running_sandbox,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SPECS = REPO.parent / "shared" / "zoom-api"
SPEC_FILE = "ZoomMeetingAPISpec-2023-10.json"  # the copy that keeps enums and error codes

LISTS = ("/users", "/users/{userId}", "/groups", "/groups/{groupId}/members")
SETTINGS = (
    "/users/{userId}/settings",
    "/groups/{groupId}/settings",
    "/accounts/{accountId}/settings",
)
LOCKS = ("/groups/{groupId}/lock_settings", "/accounts/{accountId}/lock_settings")
FAMILIES = ("general", "meeting_authentication", "recording_authentication", "meeting_security")
# Top-level keys that tell a family's shape apart from the others in Zoom's `oneOf`s.
MARKERS = {
    "general": {"schedule_meeting", "in_meeting", "recording"},
    "meeting_authentication": {"meeting_authentication"},
    "recording_authentication": {"recording_authentication"},
    "meeting_security": {"meeting_security"},
}
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
ADJUSTMENTS = (
    "Settings GET/PATCH answer one shape per `option`, but the spec lists all shapes in one "
    "`oneOf` of open objects without required keys, so any answer matches several branches and "
    "`oneOf` can never pass. The check runs once per option, with `option` fixed and each "
    "schema narrowed to the branch Zoom documents for that option.",
    "PATCH /groups/{groupId}/settings and PATCH /accounts/{accountId}/lock_settings: the 2023 "
    "spec lists only a '200' entry whose text is the paid-account error note; 204 added, as every "
    "other settings PATCH documents (and the 2025 spec for the group endpoint).",
    "lock_settings `option` is typed as any string but described as only `meeting_security`.",
    "Account `option=security` (login and password policy) is not emulated; not generated.",
    "`next_page_token`: only tokens the server issued mean anything; not generated.",
    "Some array settings carry their `enum` on the array instead of on its items (so no array "
    "could ever match); the enum is moved to the items.",
    "Request bodies: objects are closed (`additionalProperties: false`) so generated bodies hold "
    "documented fields only; the sandbox refuses unknown fields with 400 code 300.",
    "PATCH /groups/{groupId}/settings and PATCH /accounts/{accountId}/lock_settings document no "
    "400 although the other settings PATCHes do (invalid field: 400); 400 added to both.",
    "`/accounts/{accountId}` is tested as `/accounts/me` (the sandbox's own account).",
    "`userId` and `groupId` are drawn from the sandbox's tenant plus one unknown id each, so "
    "requests reach existing users and groups and the 404 answers are checked too.",
    "PATCH /accounts/{accountId}/lock_settings lacks the `option` parameter that its GET and the "
    "group lock endpoints document; added for the meeting_security pass.",
)


def walk(node: Any, visit: Any) -> None:
    """Call `visit` on every schema object below `node`."""
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            walk(value, visit)


def enum_to_items(node: dict[str, Any]) -> None:
    if node.get("type") == "array" and "enum" in node and isinstance(node.get("items"), dict):
        node["items"].setdefault("enum", node.pop("enum"))


def close_object(node: dict[str, Any]) -> None:
    if node.get("type") == "object" and node.get("properties"):
        node.setdefault("additionalProperties", False)


def candidates(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The object shapes of a schema, with nested `oneOf`s flattened."""
    if "oneOf" not in schema:
        return [schema]
    return [shape for branch in schema["oneOf"] for shape in candidates(branch)]


def branch_for(schema: dict[str, Any], family: str) -> dict[str, Any]:
    for shape in candidates(schema):
        if MARKERS[family] & set(shape.get("properties", {})):
            return shape
    raise LookupError(f"no {family} shape in the spec's schema")


def narrow(operation: dict[str, Any], family: str, known: dict[str, list[str]]) -> dict[str, Any]:
    """The operation as if it took only `option=family` (no `option` for general settings)."""
    operation = copy.deepcopy(operation)
    kept = []
    params = operation.get("parameters", [])
    if family != "general" and not any(p["name"] == "option" for p in params):
        params.append({"name": "option", "in": "query"})
    for param in params:
        if param["name"] in ("accountId", "next_page_token"):
            continue
        if param["name"] == "option":
            if family == "general":
                continue
            param.update(required=True, schema={"type": "string", "enum": [family]})
        if param["name"] in known:
            param["schema"] = {"type": "string", "enum": known[param["name"]]}
        kept.append(param)
    operation["parameters"] = kept
    for holder in (operation.get("requestBody"), operation["responses"].get("200")):
        for media in (holder or {}).get("content", {}).values():
            if "oneOf" in media.get("schema", {}):
                media["schema"] = branch_for(media["schema"], family)
    return operation


def variant(spec: dict[str, Any], family: str, known: dict[str, list[str]]) -> dict[str, Any]:
    """Zoom's spec cut down to the emulated endpoints, as seen with `option=family`."""
    chosen = [*SETTINGS]
    if family == "general":
        chosen += [*LISTS, *LOCKS]
    elif family == "meeting_security":
        chosen += LOCKS
    paths: dict[str, Any] = {}
    for path in chosen:
        item = {
            m: narrow(op, family, known)
            for m, op in spec["paths"][path].items()
            if m in ("get", "patch")
        }
        if path in LISTS:
            item = {"get": item["get"]}
        if "patch" in item:
            documented = item["patch"]["responses"]
            documented.setdefault("204", {"description": "Updated."})
            documented.setdefault("400", {"description": "Invalid field (code 300)."})
            walk(item["patch"].get("requestBody"), close_object)
        walk(item, enum_to_items)
        paths[path.replace("{accountId}", "me")] = item
    return {**spec, "paths": paths, "servers": [{"url": "/v2"}]}


def token(base: str) -> str:
    answer = httpx2.post(
        f"{base}/oauth/token",
        params={"grant_type": "account_credentials", "account_id": "sandbox-account"},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def run_schemathesis(spec_file: Path, base: str, args: argparse.Namespace) -> int:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", str(spec_file),
        "--url", f"{base}/v2",
        "--header", f"Authorization: Bearer {token(base)}",
        "--checks", ",".join(CHECKS),
        "--mode", "positive",
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        "--workers", "1",
        "--no-color",
    ]  # fmt: skip
    return subprocess.call(command, cwd=spec_file.parent)  # keeps its caches out of the repo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=Path, default=DEFAULT_SPECS, help="folder of Zoom's specs")
    parser.add_argument("--max-examples", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    spec = json.loads((args.specs / SPEC_FILE).read_text(encoding="utf-8"))
    for reason in ADJUSTMENTS:
        print(f"adjusted: {reason}")
    off = {"LIGHT": None, "MEDIUM": None, "HEAVY": None}
    config = SandboxConfig(rate_limits=off, max_concurrent_user_patches=None)
    app = create_app(config, generate_tenant(users=200, groups=5, seed=3))
    tenant = app.sandbox.tenant
    known = {
        "userId": [u.id for u in tenant.users[:8]] + [tenant.users[9].email, "nobody@example.test"],
        "groupId": [*tenant.groups, "no-such-group"],
    }
    results: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder, running_sandbox(app) as base:
        for family in FAMILIES:
            print(f"\n=== option: {family} ===", flush=True)
            spec_file = Path(folder) / f"zoom-sandbox-{family}.json"
            spec_file.write_text(json.dumps(variant(spec, family, known)), encoding="utf-8")
            results[family] = run_schemathesis(spec_file, base, args)
    print(
        "\nsummary: "
        + ", ".join(f"{f}: {'ok' if c == 0 else f'FAILED ({c})'}" for f, c in results.items())
    )
    return 0 if not any(results.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
