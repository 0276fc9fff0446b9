"""The evidence manifest: what an auditor checks to know a bundle was not altered afterwards.

`manifest.json` names the settings repo's commit, the tool's version, when the audit ran, the
account, each policy pack with the sha256 of its file, and the sha256 and size of every file
written beside it (the reports and the snapshot). It is written last, so it covers them all.

`verify` trusts nothing in the bundle: the manifest must list every file (an unlisted file is a
problem, as is a listed one that is missing or edited), each listed path must be a plain relative
path inside the bundle, and nothing is read through a link or outside the folder.

Hashes alone cannot tell a bundle recomputed from scratch: with `RECONCILER_EVIDENCE_KEY` set
when it is written, the manifest carries an HMAC-SHA256 over its canonical content, and `verify`
with the key refuses a manifest whose HMAC is missing or wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.audit.model import FORMAT_VERSION, AuditResult
from reconciler.desired.repo import FileTree, Refused
from reconciler.errors import ConfigError
from reconciler.escape import printable

MANIFEST = "manifest.json"
KEY_ENV = "RECONCILER_EVIDENCE_KEY"
SIGNATURE_ALGORITHM = "HMAC-SHA256"


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


def _canonical(document: dict[str, Any]) -> bytes:
    """What the signature covers: the manifest without its signature, in one spelling."""
    unsigned = {name: value for name, value in document.items() if name != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _signature(document: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, _canonical(document), hashlib.sha256).hexdigest()


def write_manifest(
    result: AuditResult, folder: Path, files: list[Path], key: bytes | None = None
) -> Path:
    """Write `manifest.json` into `folder` (through a temporary file, then renamed), signed with
    `key` when one is given (the algorithm is recorded, never the key)."""
    target = folder / MANIFEST
    partial = folder / f".{MANIFEST}.partial"
    document = manifest(result, folder, files)
    if key:
        document["signature"] = {
            "algorithm": SIGNATURE_ALGORITHM,
            "value": _signature(document, key),
        }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(partial, flags, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, target)
    return target


MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_FILE_BYTES = 4 * 1024 * 1024 * 1024  # a snapshot of a large account; a device never ends
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MALFORMED_HINT = "pass a folder written by `reconciler audit --evidence`"


@dataclass(frozen=True)
class Verification:
    """What `verify` found: how many listed files match, and one line per problem (each naming
    its file, relative to the bundle)."""

    checked: int
    problems: list[str]
    signature_checked: bool = False  # False: no key was given, so a recomputed bundle passes


def verify(folder: Path, key: bytes | None = None) -> Verification:
    """Check a bundle both ways: every file the manifest lists is there with its sha256, and
    every file there is listed; with `key`, the manifest's signature too. Nothing outside
    `folder` is read and no link is followed. Raises ConfigError when the manifest cannot be
    read or is not one."""
    tree = FileTree(folder)
    document = _read_manifest(tree, folder / MANIFEST)
    entries = _entries(folder, document)
    problems: list[str] = [] if not key else _signature_problems(document, key)
    listed: set[str] = set()
    checked = 0
    for path, digest in entries:
        if (reason := _unsafe_path(path)) is not None:
            problems.append(f"{printable(path, 120)}: {reason}; it was not read")
            continue
        listed.add(path)
        found = _problem(tree, path, digest)
        if found is None:
            checked += 1
        else:
            problems.append(f"{path}: {found}")
    problems += [f"{rel}: {why}" for rel, why in _unlisted(tree, "", listed)]
    if not entries:
        problems.append(f"{MANIFEST}: lists no files: a bundle always holds its reports")
    return Verification(checked, problems, signature_checked=bool(key))


def _signature_problems(document: dict[str, Any], key: bytes) -> list[str]:
    signature = document.get("signature")
    if not isinstance(signature, dict) or not isinstance(signature.get("value"), str):
        return [f"{MANIFEST}: is not signed, and {KEY_ENV} is set: it was not written with the key"]
    if signature.get("algorithm") != SIGNATURE_ALGORITHM:
        return [f"{MANIFEST}: is signed with another algorithm than {SIGNATURE_ALGORITHM}"]
    if not hmac.compare_digest(signature["value"], _signature(document, key)):
        return [f"{MANIFEST}: its signature does not match: altered, or signed with another key"]
    return []


def _read_manifest(tree: FileTree, where: Path) -> Any:
    try:
        text = tree.read(MANIFEST, MAX_MANIFEST_BYTES)
    except Refused as refused:
        raise ConfigError(refused.message, file=str(where), hint=_MALFORMED_HINT) from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read the manifest: {reason}", file=str(where)) from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise ConfigError("is not JSON", file=str(where), hint=_MALFORMED_HINT) from None


def _entries(folder: Path, document: Any) -> list[tuple[str, str]]:
    """(path, sha256) of each listed file, once the manifest has the shape one has."""
    files = document.get("files") if isinstance(document, dict) else None
    if not isinstance(files, list) or not all(_is_entry(entry) for entry in files):
        raise ConfigError(
            "is not an evidence manifest: `files` must be a list of {path, sha256, bytes}",
            file=str(folder / MANIFEST),
            hint=_MALFORMED_HINT,
        )
    return [(entry["path"], entry["sha256"]) for entry in files]


def _is_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and isinstance(entry.get("sha256"), str)
        and _SHA256.fullmatch(entry["sha256"]) is not None
        and type(entry.get("bytes")) is int
    )


def _unsafe_path(path: str) -> str | None:
    """Why a listed path is not a plain relative path inside the bundle (None: it is one)."""
    parts = path.split("/")
    if not path or "\\" in path or "\0" in path or path.startswith("/"):
        return "is not a plain relative path inside the bundle"
    if any(part in ("", ".", "..") for part in parts) or path == MANIFEST:
        return "is not a plain relative path inside the bundle"
    return None


def _problem(tree: FileTree, path: str, digest: str) -> str | None:
    entry = tree.entry(path)
    if entry is None:
        return "is in the manifest but missing from the bundle"
    if entry.kind != "file":
        return f"is {entry.what}, not a file: it was not read"
    try:
        data = tree.read(path, MAX_FILE_BYTES)
    except (Refused, OSError):
        return "cannot be read as a regular file"
    if hashlib.sha256(data).hexdigest() != digest:
        return "was edited: its sha256 is not the one the manifest records"
    return None


def _unlisted(tree: FileTree, folder: str, listed: set[str]) -> list[tuple[str, str]]:
    """The files (and links, and anything else) in the bundle that the manifest does not list."""
    found: list[tuple[str, str]] = []
    for entry in tree.entries(folder):
        if entry.rel in (MANIFEST, f".{MANIFEST}.partial"):
            continue
        if entry.kind == "folder":
            found += _unlisted(tree, entry.rel, listed)
        elif entry.rel not in listed:
            found.append((printable(entry.rel, 120), f"is {entry.what} not in the manifest"))
    return found
