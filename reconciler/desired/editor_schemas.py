"""JSON Schemas of the settings repo's file kinds, generated from the models, for editors and CI.

`reconciler schema --out schemas/repo` writes them; a test regenerates them and fails when the
committed files are stale. A settings file points at its schema with a first line such as
`# yaml-language-server: $schema=../schemas/repo/user.schema.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.desired.models import FILE_KINDS, FileKind, file_model

SCHEMA_FILES: dict[FileKind, str] = {kind: f"{kind}.schema.json" for kind in FILE_KINDS}
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
_TITLES: dict[FileKind, str] = {
    "reconciler": "reconciler.yaml",
    "account": "account.yaml",
    "group": "groups/<name>.yaml",
    "user": "users/<email>.yaml",
    "defaults": "all-users defaults (defaults.yaml)",
}


def _tidy(node: Any) -> Any:
    """Drop what only adds noise for an editor: generated titles and `default: null`."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: _tidy(value)
        for key, value in node.items()
        if key != "title" and not (key == "default" and value is None)
    }


def editor_schema(kind: FileKind) -> dict[str, Any]:
    """The JSON Schema of one file kind."""
    body = _tidy(file_model(kind).model_json_schema())
    return {"$schema": _DRAFT, "title": _TITLES[kind], **body}


def render(kind: FileKind) -> str:
    return json.dumps(editor_schema(kind), indent=2, ensure_ascii=False) + "\n"


def write_schemas(out: Path) -> list[Path]:
    """Write one schema per file kind into `out`; the paths written, in a fixed order."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, name in SCHEMA_FILES.items():
        target = out / name
        target.write_text(render(kind), encoding="utf-8")
        written.append(target)
    return written
