"""Snapshots of what an audit read, and what changed in Zoom between two of them.

A snapshot is gzip-compressed JSON lines: a header, then one line per target (the account, each
group, each active user) holding every settings and lock family the audit read, unmanaged fields
included. Each target line starts with its key and the sha256 of its content, so `compare` can
tell unchanged targets apart by reading a line's first bytes, and parses the JSON of changed
targets only: a `--since` over 50,000 users costs what the changed ones cost, plus decompression.

Writing streams (one target at a time, nothing but the keys held) into a temp file beside the
snapshot, renamed into place on `close`: an interrupted audit leaves no half snapshot. The
manifest beside it records the compressed file's sha256, so an earlier snapshot edited after it
was written is refused instead of compared; a snapshot without its manifest is refused too.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import stat
import tempfile
import time
import zlib
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TypeGuard

from reconciler.audit.model import FieldChange, SinceReport, SnapshotInfo
from reconciler.desired.state import dotted, leaves
from reconciler.diff import MISSING, strictly_equal
from reconciler.errors import ConfigError
from reconciler.escape import printable, quoted
from reconciler.private import private_folder
from reconciler.targets import KIND_ORDER
from reconciler.vocab import Level

FORMAT_VERSION = 1
SNAPSHOT_MARK = "reconciler"
SUFFIX = ".jsonl.gz"
MANIFEST_SUFFIX = ".manifest.json"
# No target line comes near this (a user's four families are ~10 KB); it bounds what one line of
# a hostile file can make us decompress and hold.
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_MANIFEST_BYTES = 64 * 1024
READ_HINT = "pass a snapshot written by `reconciler audit`"
ALTERED_HINT = "take a new snapshot with `reconciler audit`, or pass the file as it was written"
NO_MANIFEST_HINT = (
    "keep the manifest beside the snapshot as `reconciler audit` wrote it, or take a new snapshot"
)
# The start of every target line the writer produces; a line that does not start like this
# (written by something else) is parsed whole instead. Keys with escapes take that path too.
_PREFIX = re.compile(rb'\{"key":"([^"\\]{1,1024})","sha256":"([0-9a-f]{64})",')
_PREFIX_SCAN = 1200  # bytes of a line the prefix pattern may look at
_SHA256 = re.compile(r"[0-9a-f]{64}")
_READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class SnapshotTarget:
    """One target as the audit read it. `unknown`: why its read failed (then `settings` holds
    only the families that were read). `settings` per family and `locks` per lock family, each a
    nested document in the repo's shape."""

    key: str  # "account", "group:ID", "user:ID"
    label: str  # "user alice@acme.test"
    level: Level
    id: str
    email: str | None = None
    name: str | None = None
    groups: tuple[str, ...] = ()
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    locks: dict[str, dict[str, Any]] = field(default_factory=dict)
    unknown: str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    path: str
    account_id: str
    taken_at: str


def manifest_path(path: Path) -> Path:
    """`X.manifest.json` beside `X.jsonl.gz`."""
    name = path.name
    stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) and name != SUFFIX else path.stem
    return path.with_name(stem + MANIFEST_SUFFIX)


def _canonical(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_target(target: SnapshotTarget) -> tuple[bytes, str]:
    """The target's line (newline included) and its sha256: over the canonical JSON of the line
    without `sha256`, whose key sorts first, so the line is that JSON with the hash spliced in
    after the key."""
    record = {
        "key": target.key,
        "target": {
            "label": target.label,
            "level": target.level,
            "id": target.id,
            "email": target.email,
            "name": target.name,
            "groups": list(target.groups),
            "unknown": target.unknown,
        },
        "settings": target.settings,
        "locks": target.locks,
    }
    canonical = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    digest = _sha256(canonical)
    head = '{"key":' + json.dumps(target.key, ensure_ascii=False) + ","
    line = f'{head}"sha256":"{digest}",{canonical[len(head) :]}\n'
    return line.encode("utf-8"), digest


# -- writing ----------------------------------------------------------------------------------


class SnapshotWriter:
    """Writes one snapshot, a target at a time. Nothing lands at `path` until `close`; leaving
    the `with` block without `close` (an exception, an interrupted audit) discards the snapshot.
    """

    def __init__(self, path: Path, account_id: str, taken_at: str) -> None:
        self.path = path
        self.manifest = manifest_path(path)
        self.account_id = account_id
        self.taken_at = taken_at
        self._keys: set[str] = set()  # a key per target: 50,000 users cost ~3 MB
        self._manifest_hash = hashlib.sha256()
        self._closed = False
        _refuse_link(path)
        _refuse_link(self.manifest)
        try:
            private_folder(path.parent)
            # mkstemp creates with O_EXCL: never through a link, never an existing file.
            remove_stale_temps(path.parent)
            handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            # Held until the process ends: what tells a live writer's temp from a killed one's.
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise _cannot_write(path, exc) from exc
        self._temp = Path(temp)
        self._raw: BinaryIO = os.fdopen(handle, "wb")
        # filename="": the gzip header would otherwise carry the temp file's name.
        # compresslevel 6: zlib's default; 9 costs twice the time for a few percent.
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._raw, compresslevel=6, mtime=0
        )
        header = {
            "snapshot": SNAPSHOT_MARK,
            "format_version": FORMAT_VERSION,
            "account_id": account_id,
            "taken_at": taken_at,
        }
        self._write(json.dumps(header, ensure_ascii=False).encode("utf-8") + b"\n")

    def __enter__(self) -> SnapshotWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self._closed:
            self.discard()

    @property
    def targets(self) -> int:
        return len(self._keys)

    def add(self, target: SnapshotTarget) -> str:
        """Append a target; returns its sha256."""
        if self._closed:
            raise ValueError("the snapshot is already closed")
        if target.key in self._keys:
            raise ValueError(f"target {target.key} is already in the snapshot")
        line, digest = encode_target(target)
        self._write(line)
        self._keys.add(target.key)
        self._manifest_hash.update(f"{target.key} {digest}\n".encode())
        return digest

    def close(self, finished_at: str) -> SnapshotInfo:
        """Put the snapshot and its manifest in place; returns what the manifest records."""
        if self._closed:
            raise ValueError("the snapshot is already closed")
        manifest_sha256 = self._manifest_hash.hexdigest()
        manifest_temp: Path | None = None
        placed = False
        try:
            self._gzip.close()
            self._raw.flush()
            os.fsync(self._raw.fileno())
            digest = _file_sha256(self._temp)
            manifest = {
                "format_version": FORMAT_VERSION,
                "account_id": self.account_id,
                "taken_at": self.taken_at,
                "finished_at": finished_at,
                "targets": len(self._keys),
                "sha256": digest,
                "manifest_sha256": manifest_sha256,
            }
            manifest_temp = _durable_temp(self.manifest, json.dumps(manifest, indent=2) + "\n")
            os.replace(self._temp, self.path)
            self._raw.close()  # only now: its lock kept the temp from being taken as stale
            placed = True
            os.replace(manifest_temp, self.manifest)
            _fsync_folder(self.path.parent)
        except BaseException as exc:
            self.discard()
            if manifest_temp is not None:
                manifest_temp.unlink(missing_ok=True)
            if placed:  # a snapshot whose manifest could not follow is no snapshot
                self.path.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise _cannot_write(self.path, exc) from exc
            raise
        self._closed = True
        return SnapshotInfo(str(self.path), digest, manifest_sha256, len(self._keys))

    def discard(self) -> None:
        """Drop what was written (the temp file); `path` is left as it was."""
        self._closed = True
        with contextlib.suppress(OSError, ValueError):
            self._gzip.close()
        with contextlib.suppress(OSError):
            self._raw.close()
        self._temp.unlink(missing_ok=True)

    def _write(self, data: bytes) -> None:
        try:
            self._gzip.write(data)
        except OSError as exc:
            self.discard()
            raise _cannot_write(self.path, exc) from exc


_TEMP_NAME = re.compile(r"\..+\.(jsonl\.gz|manifest\.json)\.[A-Za-z0-9_]+\.tmp")
_MANIFEST_TEMP_STALE_S = 600.0  # a manifest temp lives for one write and one rename


def remove_stale_temps(folder: Path) -> list[str]:
    """Remove the temp files killed audits left in `folder` (a snapshot's is stale once no
    process holds its lock; a manifest's once it is ten minutes old); returns their names.
    Links and anything but regular files are left alone."""
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for name in sorted(os.listdir(folder)):
            found = _TEMP_NAME.fullmatch(name)
            if found is not None and _stale(folder / name, found.group(1) == "jsonl.gz"):
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()
                    removed.append(name)
    return removed


def _stale(path: Path, locked_while_written: bool) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        if not locked_while_written:
            return time.time() - info.st_mtime > _MANIFEST_TEMP_STALE_S
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a live audit is writing it
        return True
    finally:
        os.close(fd)


def _refuse_link(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _cannot_write(path, exc) from exc
    if stat.S_ISLNK(mode):
        raise ConfigError(
            "is a symbolic link: a snapshot is never written through a link",
            file=str(path),
            hint="remove the link, or write the snapshot elsewhere",
        )
    if not stat.S_ISREG(mode):
        raise ConfigError(
            "is not a regular file: a snapshot only replaces a plain file",
            file=str(path),
            hint="remove it, or write the snapshot elsewhere",
        )


def _cannot_write(path: Path, exc: OSError) -> ConfigError:
    reason = exc.strerror or type(exc).__name__
    return ConfigError(
        f"cannot write the snapshot: {reason}",
        file=str(path),
        hint="check the folder's permissions and free space",
    )


def _durable_temp(path: Path, text: str) -> Path:
    """A temp file beside `path` holding `text`, on disk, for renaming onto `path`."""
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return Path(temp)


def _fsync_folder(folder: Path) -> None:
    """Make the renames durable; some file systems cannot open a folder, which is no error."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- reading ----------------------------------------------------------------------------------


def _parse_line(line: bytes) -> Any:
    """A line's JSON. Every full parse of a snapshot line goes through here (tests count them)."""
    return json.loads(line, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _bad(path: Path, line: int | None, message: str, hint: str = READ_HINT) -> ConfigError:
    return ConfigError(message, file=str(path), line=line, hint=hint)


def _open_regular(path: Path) -> BinaryIO:
    """The file for reading; a FIFO or a device is refused before it can block or never end."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _bad(path, None, f"cannot read the snapshot: {reason}") from exc
    try:
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except OSError:
        regular = False
    if not regular:
        os.close(fd)
        raise _bad(path, None, "is not a regular file")
    return os.fdopen(fd, "rb")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with _open_regular(path) as raw:
        try:
            while chunk := raw.read(_READ_CHUNK):
                digest.update(chunk)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise _bad(path, None, f"cannot read the snapshot: {reason}") from exc
    return digest.hexdigest()


def _lines(path: Path) -> Generator[tuple[int, bytes], None, None]:
    """(line number, line without its newline), the header first. Each line is decompressed
    into at most MAX_LINE_BYTES + 1 bytes, whatever the file holds."""
    with _open_regular(path) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
        number = 0
        while True:
            number += 1
            try:
                line = unzipped.readline(MAX_LINE_BYTES + 1)
            except EOFError as exc:
                message = "the compressed stream ends early: the snapshot is truncated"
                raise _bad(path, number, message) from exc
            except (OSError, zlib.error) as exc:
                raise _bad(path, number, "is not a gzip-compressed snapshot") from exc
            if not line:
                if number == 1:
                    raise _bad(path, number, "the snapshot is empty")
                return
            if not line.endswith(b"\n"):
                if len(line) > MAX_LINE_BYTES:
                    raise _bad(path, number, "a line longer than 16 MiB is no snapshot line")
                raise _bad(path, number, "the last line has no end: the snapshot is truncated")
            yield number, line[:-1]


def _header(path: Path, line: bytes) -> SnapshotHeader:
    try:
        document = _parse_line(line)
    except (ValueError, RecursionError) as exc:
        raise _bad(path, 1, "is not a reconciler snapshot: its first line is not JSON") from exc
    if not isinstance(document, dict) or document.get("snapshot") != SNAPSHOT_MARK:
        raise _bad(path, 1, "is not a reconciler snapshot: its first line is no snapshot header")
    version = document.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise _bad(
            path,
            1,
            f"snapshot format version {quoted(version)}; "
            f"this reconciler reads version {FORMAT_VERSION}",
            hint="take a new snapshot with this version's `reconciler audit`",
        )
    account_id, taken_at = document.get("account_id"), document.get("taken_at")
    if not isinstance(account_id, str) or not isinstance(taken_at, str):
        raise _bad(path, 1, "the snapshot header has no account_id or taken_at")
    return SnapshotHeader(str(path), account_id, taken_at)


def read_header(path: Path) -> SnapshotHeader:
    """The snapshot's header, after checking the file is one: its first line is a reconciler
    snapshot header of this format version, and its manifest is beside it and records the
    file's bytes (without one, every line could be forged with its hash recomputed)."""
    if path.name.endswith(".tmp"):
        raise _bad(path, None, "is the temp file of an unfinished audit, not a snapshot")
    lines = _lines(path)
    try:
        _number, line = next(lines)  # `_lines` raises on an empty file
    finally:
        lines.close()
    header = _header(path, line)
    _check_manifest(path, header)
    return header


def _check_manifest(path: Path, header: SnapshotHeader) -> None:
    manifest = manifest_path(path)
    try:
        with _open_regular(manifest) as raw:
            text = raw.read(MAX_MANIFEST_BYTES + 1)
    except ConfigError:
        if not os.path.lexists(manifest):
            raise _bad(
                path,
                None,
                f"has no manifest ({manifest.name} is not beside it): a snapshot is compared only "
                "with the manifest written with it",
                hint=NO_MANIFEST_HINT,
            ) from None
        raise
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _bad(manifest, None, f"cannot read the manifest: {reason}") from exc
    try:
        document = json.loads(text) if len(text) <= MAX_MANIFEST_BYTES else None
    except (ValueError, RecursionError):
        document = None
    recorded = document.get("sha256") if isinstance(document, dict) else None
    if not isinstance(document, dict) or not isinstance(recorded, str):
        raise _bad(manifest, None, "is not a snapshot manifest", hint=ALTERED_HINT)
    same_header = (
        document.get("account_id") == header.account_id
        and document.get("taken_at") == header.taken_at
    )
    if recorded != _file_sha256(path) or not same_header:
        raise _bad(
            path,
            None,
            f"the snapshot was altered after it was written: it is not the file {manifest.name} "
            "records",
            hint=ALTERED_HINT,
        )


@dataclass(frozen=True, slots=True)
class _Record:
    """A fully parsed target line."""

    key: str
    label: str
    level: str
    settings: dict[str, Any]
    locks: dict[str, Any]


def _key_and_hash(path: Path, number: int, line: bytes) -> tuple[str, str]:
    """A target line's key and sha256, from its first bytes when it starts as written."""
    found = _PREFIX.match(line, 0, _PREFIX_SCAN)
    if found is not None:
        with contextlib.suppress(UnicodeDecodeError):
            return found.group(1).decode("utf-8"), found.group(2).decode("ascii")
    document = _parsed(path, number, line)
    key, digest = document.get("key"), document.get("sha256")
    if not isinstance(key, str) or not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise _bad(path, number, "is not a snapshot target line: no key or sha256")
    return key, digest


def _parsed(path: Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        document = _parse_line(line)
    except (ValueError, RecursionError) as exc:
        raise _bad(path, number, "is not a JSON line") from exc
    if not isinstance(document, dict):
        raise _bad(path, number, "is not a snapshot target line: not a JSON object")
    return document


def _record(path: Path, number: int, line: bytes, key: str, digest: str) -> _Record:
    """The target on the line, checked against the key and hash its first bytes gave."""
    document = _parsed(path, number, line)
    target, settings, locks = (
        document.get("target"),
        document.get("settings"),
        document.get("locks"),
    )
    if (
        not isinstance(target, dict)
        or not isinstance(target.get("label"), str)
        or target.get("level") not in KIND_ORDER
        or not _families(settings)
        or not _families(locks)
    ):
        raise _bad(path, number, "is not a snapshot target line: its fields are not a target's")
    try:
        content = _canonical({name: value for name, value in document.items() if name != "sha256"})
    except (ValueError, RecursionError) as exc:
        raise _bad(path, number, "is not a snapshot target line: nested too deep") from exc
    if document.get("key") != key or document.get("sha256") != digest or _sha256(content) != digest:
        raise _bad(
            path,
            number,
            "the snapshot was altered after it was written: the line is not the one its sha256 "
            "records",
            hint=ALTERED_HINT,
        )
    return _Record(key, target["label"], target["level"], settings, locks)


def _families(value: Any) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and all(isinstance(doc, dict) for doc in value.values())


def _hashes(path: Path) -> dict[str, str]:
    """Pass 1: key -> sha256 of every target line, no line parsed whole (as written)."""
    found: dict[str, str] = {}
    lines = _lines(path)
    next(lines)  # the header, checked by `read_header`
    for number, line in lines:
        key, digest = _key_and_hash(path, number, line)
        if key in found:
            raise _bad(path, number, f"target {quoted(key)} appears twice")
        found[key] = digest
    return found


def _differing_lines(
    path: Path, earlier_hashes: dict[str, str]
) -> tuple[dict[str, str], dict[str, tuple[int, bytes]]]:
    """The current snapshot's hashes, and its lines (with their numbers) whose hash is not the
    earlier one: the changed and added targets, kept as bytes for the earlier file's second
    pass."""
    hashes: dict[str, str] = {}
    differing: dict[str, tuple[int, bytes]] = {}
    lines = _lines(path)
    next(lines)
    for number, line in lines:
        key, digest = _key_and_hash(path, number, line)
        if key in hashes:
            raise _bad(path, number, f"target {quoted(key)} appears twice")
        hashes[key] = digest
        if earlier_hashes.get(key) != digest:
            differing[key] = (number, line)
    return hashes, differing


def compare(earlier: Path, current: Path) -> SinceReport:
    """What changed in Zoom from the `earlier` snapshot to the `current` one, field by field.

    A target whose line hash is the same in both is unchanged and never parsed; only the lines
    of changed, added and removed targets are. The earlier file is read twice (its hashes, then
    the lines of changed and removed targets), the current one once, its changed lines kept as
    bytes until their earlier side turns up: memory and parsing grow with the changed targets.

    A settings or lock family present in only one of the two snapshots (the audits read
    different families, or one target's read failed part way) is skipped and counts nothing:
    a family that was not read is no change in Zoom. A target whose only change is outside its
    families (email, name, groups, read failure) is not among `targets_changed`.
    """
    before = read_header(earlier)
    after = read_header(current)
    if before.account_id != after.account_id:
        raise ConfigError(
            f"snapshot {earlier} is of account {printable(before.account_id, 60)}, "
            f"this audit reads account {printable(after.account_id, 60)}",
            hint="pass a snapshot of the same account",
        )
    report = SinceReport(snapshot=str(earlier), taken_at=before.taken_at)
    earlier_hashes = _hashes(earlier)
    current_hashes, pending = _differing_lines(current, earlier_hashes)
    report.targets_compared = sum(key in current_hashes for key in earlier_hashes)

    changes: list[tuple[tuple[int, str, str, str], FieldChange]] = []
    removed: list[_Record] = []
    lines = _lines(earlier)
    next(lines)
    seen = 0
    for number, line in lines:
        seen += 1
        key, digest = _key_and_hash(earlier, number, line)
        if earlier_hashes.get(key) != digest:
            raise _bad(earlier, number, "the snapshot changed while it was being read")
        if key in current_hashes and key not in pending:
            continue
        old = _record(earlier, number, line, key, digest)
        if key not in current_hashes:
            removed.append(old)
            continue
        new_number, new_line = pending.pop(key, (0, b""))
        if not new_number:  # the line came twice: the file was rewritten during the read
            raise _bad(earlier, number, "the snapshot changed while it was being read")
        new = _record(current, new_number, new_line, key, current_hashes[key])
        try:
            found = _field_changes(old, new)
        except RecursionError as exc:
            raise _bad(
                current, new_number, "is not a snapshot target line: nested too deep"
            ) from exc
        if found:
            report.targets_changed += 1
            level_order = KIND_ORDER[new.level]
            changes.extend(((level_order, new.label, c.family, c.path), c) for c in found)
    if seen != len(earlier_hashes):
        raise _bad(earlier, None, "the snapshot changed while it was being read")
    added = [
        _record(current, number, line, key, current_hashes[key])
        for key, (number, line) in pending.items()
    ]
    changes.sort(key=lambda item: item[0])
    report.changes = [change for _order, change in changes]
    report.added = _labels(added)
    report.removed = _labels(removed)
    return report


def _labels(records: list[_Record]) -> list[str]:
    return [r.label for r in sorted(records, key=lambda r: (KIND_ORDER[r.level], r.label))]


def _field_changes(old: _Record, new: _Record) -> list[FieldChange]:
    found: list[FieldChange] = []
    for prefix, old_families, new_families in (
        ("", old.settings, new.settings),
        ("locks.", old.locks, new.locks),
    ):
        for family in sorted(old_families.keys() & new_families.keys()):
            old_leaves = dict(leaves(old_families[family]))
            for path, value in leaves(new_families[family]):
                prior = old_leaves.pop(path, MISSING)
                if not strictly_equal(prior, value):
                    found.append(
                        FieldChange(new.label, new.key, prefix + family, dotted(path), prior, value)
                    )
            found.extend(
                FieldChange(new.label, new.key, prefix + family, dotted(path), prior, MISSING)
                for path, prior in old_leaves.items()
            )
    return found
