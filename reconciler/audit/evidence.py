"""The evidence manifest: what an auditor checks to know a bundle was not altered afterwards.

`manifest.json` names the settings repo's commit, the tool's version, when the audit ran, the
account, each policy pack with the sha256 of its file, and the sha256 and size of every file
written beside it (the reports and the snapshot). It is written last, so it covers them all.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from reconciler.audit.model import FORMAT_VERSION, AuditResult

MANIFEST = "manifest.json"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest(result: AuditResult, folder: Path, files: list[Path]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "tool": {"name": "reconciler", "version": result.tool_version},
        "account_id": result.account_id,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "repo": {"path": result.repo_path, "commit": result.repo_commit},
        "packs": [{"name": p.name, "file": p.file, "sha256": p.sha256} for p in result.packs],
        "snapshot": None
        if result.snapshot is None
        else {
            "manifest_sha256": result.snapshot.manifest_sha256,
            "targets": result.snapshot.targets,
        },
        "files": [
            {
                "path": path.relative_to(folder).as_posix(),
                "sha256": file_sha256(path),
                "bytes": path.stat().st_size,
            }
            for path in sorted(files)
        ],
    }


def write_manifest(result: AuditResult, folder: Path, files: list[Path]) -> Path:
    """Write `manifest.json` into `folder` (through a temporary file, then renamed)."""
    target = folder / MANIFEST
    partial = folder / f".{MANIFEST}.partial"
    text = json.dumps(manifest(result, folder, files), indent=2, ensure_ascii=False) + "\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(partial, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, target)
    return target


def verify(folder: Path) -> list[str]:
    """The files of a bundle whose bytes no longer match its manifest (empty: intact)."""
    found = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    altered = []
    for entry in found["files"]:
        path = folder / entry["path"]
        if not path.is_file() or file_sha256(path) != entry["sha256"]:
            altered.append(entry["path"])
    return altered
