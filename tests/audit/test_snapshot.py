"""Snapshots: what is written, what `compare` reports between two, and every file it refuses."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.audit import snapshot
from reconciler.audit.model import FieldChange, SinceReport, SnapshotInfo
from reconciler.audit.snapshot import (
    SnapshotTarget,
    SnapshotWriter,
    compare,
    encode_target,
    manifest_path,
    read_header,
)
from reconciler.diff import MISSING
from reconciler.errors import ConfigError

ACCOUNT_ID = "acct-1"
EARLIER_AT = "2026-11-30T10:00:00Z"
CURRENT_AT = "2026-12-01T10:00:00Z"
READ_HINT = "(hint: pass a snapshot written by `reconciler audit`)"
ALTERED_HINT = (
    "(hint: take a new snapshot with `reconciler audit`, or pass the file as it was written)"
)


def account(chat_locked: bool) -> SnapshotTarget:
    return SnapshotTarget(
        "account",
        "account",
        "account",
        ACCOUNT_ID,
        settings={"general": {"in_meeting": {"chat": True, "polling": False}}},
        locks={
            "general": {"in_meeting": {"chat": chat_locked}},
            "meeting_security": {"waiting_room": False},
        },
    )


def sales(settings: dict[str, Any]) -> SnapshotTarget:
    return SnapshotTarget(
        "group:g-sales",
        "group Sales",
        "group",
        "g-sales",
        name="Sales",
        settings={"general": settings},
        locks={"general": {}, "meeting_security": {}},
    )


def user(name: str, settings: dict[str, dict[str, Any]], **more: Any) -> SnapshotTarget:
    email = f"{name}@acme.test"
    return SnapshotTarget(
        f"user:u-{name}",
        f"user {email}",
        "user",
        f"u-{name}",
        email=email,
        settings=settings,
        **more,
    )


BOB = user("bob", {"general": {"in_meeting": {"chat": False}}}, groups=("Sales",))


def earlier_targets() -> list[SnapshotTarget]:
    return [
        account(chat_locked=False),
        sales({"in_meeting": {"chat": True, "polling": True}}),
        user(
            "alice",
            {
                "general": {
                    "in_meeting": {"chat": True, "allow_users_save_chats": 1},
                    "recording": {"auto_recording": "none"},
                },
                "meeting_security": {"waiting_room": True, "block_user_domain_list": ["a.test"]},
            },
            groups=("Sales",),
        ),
        BOB,
        user("carol", {"general": {"in_meeting": {"chat": True}}}),
        user("eve", {"general": {"in_meeting": {"polling": 1}}}),
    ]


def current_targets() -> list[SnapshotTarget]:
    return [
        account(chat_locked=True),
        # the same values, in another order: the same hash, no change
        sales({"in_meeting": {"polling": True, "chat": True}}),
        user(
            "alice",
            {
                "general": {
                    "in_meeting": {"chat": False},
                    "recording": {"auto_recording": "none", "cloud_recording": True},
                },
                "meeting_security": {
                    "waiting_room": True,
                    "block_user_domain_list": ["a.test", "b.test"],
                },
                # read by this audit only: not a change in Zoom
                "meeting_authentication": {"meeting_authentication": True},
            },
            groups=("Sales",),
        ),
        BOB,
        user("dave", {"general": {"in_meeting": {"chat": True}}}),
        user("eve", {"general": {"in_meeting": {"polling": True}}}),  # 1 is not True
    ]


def write(
    path: Path,
    targets: list[SnapshotTarget],
    taken_at: str = CURRENT_AT,
    account_id: str = ACCOUNT_ID,
) -> SnapshotInfo:
    with SnapshotWriter(path, account_id, taken_at) as writer:
        for target in targets:
            writer.add(target)
        return writer.close(finished_at=taken_at.replace("10:00:00", "10:00:04"))


def lines_of(path: Path) -> list[bytes]:
    return gzip.decompress(path.read_bytes()).splitlines()


def pair(tmp_path: Path) -> tuple[Path, Path]:
    earlier = tmp_path / "snapshots" / "2026-11-30T10-00-00Z.jsonl.gz"
    current = tmp_path / "snapshots" / "2026-12-01T10-00-00Z.jsonl.gz"
    write(earlier, earlier_targets(), EARLIER_AT)
    write(current, current_targets(), CURRENT_AT)
    return earlier, current


# -- compare ----------------------------------------------------------------------------------


def test_compare_reports_every_changed_field_in_order(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)

    report = compare(earlier, current)

    alice, eve = "user alice@acme.test", "user eve@acme.test"
    assert report == SinceReport(
        snapshot=str(earlier),
        taken_at=EARLIER_AT,
        targets_compared=5,
        targets_changed=3,
        added=["user dave@acme.test"],
        removed=["user carol@acme.test"],
        changes=[
            FieldChange("account", "account", "locks.general", "in_meeting.chat", False, True),
            FieldChange(alice, "user:u-alice", "general", "in_meeting.allow_users_save_chats", 1),
            FieldChange(alice, "user:u-alice", "general", "in_meeting.chat", True, False),
            FieldChange(
                alice, "user:u-alice", "general", "recording.cloud_recording", MISSING, True
            ),
            FieldChange(
                alice,
                "user:u-alice",
                "meeting_security",
                "block_user_domain_list",
                ["a.test"],
                ["a.test", "b.test"],
            ),
            FieldChange(eve, "user:u-eve", "general", "in_meeting.polling", 1, True),
        ],
    )
    assert report.changes[1].after is MISSING


def test_compare_of_a_snapshot_with_itself_finds_nothing(tmp_path: Path) -> None:
    earlier, _current = pair(tmp_path)

    report = compare(earlier, earlier)

    assert report == SinceReport(str(earlier), EARLIER_AT, targets_compared=6)


def test_a_change_outside_the_families_is_no_changed_target(tmp_path: Path) -> None:
    moved = user("bob", dict(BOB.settings), groups=())  # left Sales: the hash differs
    write(tmp_path / "a.jsonl.gz", [BOB], EARLIER_AT)
    write(tmp_path / "b.jsonl.gz", [moved])

    report = compare(tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz")

    assert (report.targets_compared, report.targets_changed, report.changes) == (1, 0, [])


def test_compare_parses_only_the_lines_of_changed_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def many(changed: set[int]) -> list[SnapshotTarget]:
        return [
            user(f"u{n:04d}", {"general": {"in_meeting": {"chat": n in changed}}})
            for n in range(2000)
        ]

    write(tmp_path / "a.jsonl.gz", many(set()), EARLIER_AT)
    write(tmp_path / "b.jsonl.gz", many({7, 1000, 1999}))
    parsed: list[bytes] = []
    real_parse = snapshot._parse_line

    def counting_parse(line: bytes) -> Any:
        parsed.append(line)
        return real_parse(line)

    monkeypatch.setattr(snapshot, "_parse_line", counting_parse)

    report = compare(tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz")

    assert (report.targets_compared, report.targets_changed, len(report.changes)) == (2000, 3, 3)
    # two headers, and both sides of each of the three changed targets
    assert len(parsed) == 2 + 6
    assert sum(line.startswith(b'{"snapshot"') for line in parsed) == 2


def test_a_snapshot_of_another_account_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl.gz", [BOB], EARLIER_AT, account_id="acct-other")
    write(tmp_path / "b.jsonl.gz", [BOB])

    with pytest.raises(ConfigError) as caught:
        compare(tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz")

    assert str(caught.value) == (
        f"snapshot {tmp_path / 'a.jsonl.gz'} is of account acct-other, this audit reads account "
        "acct-1 (hint: pass a snapshot of the same account)"
    )


# -- what is written --------------------------------------------------------------------------


def test_a_target_hash_is_stable_and_independent_of_insertion_order() -> None:
    one = user("ann", {"general": {"a": 1, "b": {"c": [1, 2], "d": "é"}}, "meeting_security": {}})
    other = user("ann", {"meeting_security": {}, "general": {"b": {"d": "é", "c": [1, 2]}, "a": 1}})

    line, digest = encode_target(one)

    assert encode_target(other) == (line, digest)
    canonical = (
        '{"key":"user:u-ann","locks":{},"settings":{"general":{"a":1,"b":{"c":[1,2],"d":"é"}},'
        '"meeting_security":{}},"target":{"email":"ann@acme.test","groups":[],"id":"u-ann",'
        '"label":"user ann@acme.test","level":"user","name":null,"unknown":null}}'
    )
    assert digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert (
        line
        == (
            '{"key":"user:u-ann","sha256":"'
            + digest
            + '",'
            + canonical[len('{"key":"user:u-ann",') :]
        ).encode()
        + b"\n"
    )
    assert json.loads(line) == {**json.loads(canonical), "sha256": digest}


def test_the_file_and_its_manifest(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "2026-12-01T10-00-00Z.jsonl.gz"

    with SnapshotWriter(path, ACCOUNT_ID, CURRENT_AT) as writer:
        digests = [writer.add(target) for target in current_targets()]
        info = writer.close("2026-12-01T10:00:04Z")

    lines = lines_of(path)
    assert json.loads(lines[0]) == {
        "snapshot": "reconciler",
        "format_version": 1,
        "account_id": ACCOUNT_ID,
        "taken_at": CURRENT_AT,
    }
    keys = [target.key for target in current_targets()]
    assert [json.loads(line)["key"] for line in lines[1:]] == keys
    assert [json.loads(line)["sha256"] for line in lines[1:]] == digests
    listing = "".join(f"{key} {digest}\n" for key, digest in zip(keys, digests, strict=True))
    file_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest_sha256 = hashlib.sha256(listing.encode()).hexdigest()
    assert manifest_path(path) == path.with_name("2026-12-01T10-00-00Z.manifest.json")
    assert json.loads(manifest_path(path).read_text()) == {
        "format_version": 1,
        "account_id": ACCOUNT_ID,
        "taken_at": CURRENT_AT,
        "finished_at": "2026-12-01T10:00:04Z",
        "targets": 6,
        "sha256": file_sha256,
        "manifest_sha256": manifest_sha256,
    }
    assert info == SnapshotInfo(str(path), file_sha256, manifest_sha256, 6)
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "2026-12-01T10-00-00Z.jsonl.gz",
        "2026-12-01T10-00-00Z.manifest.json",
    ]
    assert read_header(path) == snapshot.SnapshotHeader(str(path), ACCOUNT_ID, CURRENT_AT)


def test_an_interrupted_writer_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"

    with pytest.raises(RuntimeError), SnapshotWriter(path, ACCOUNT_ID, CURRENT_AT) as writer:
        writer.add(BOB)
        raise RuntimeError("the audit was interrupted")

    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_writer_leaves_the_previous_snapshot_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl.gz"
    write(path, [BOB])
    before = path.read_bytes(), manifest_path(path).read_bytes()

    with pytest.raises(RuntimeError), SnapshotWriter(path, ACCOUNT_ID, CURRENT_AT) as writer:
        writer.add(BOB)
        raise RuntimeError("the audit was interrupted")

    assert (path.read_bytes(), manifest_path(path).read_bytes()) == before
    assert len(list(tmp_path.iterdir())) == 2


@pytest.mark.parametrize("link", ["s.jsonl.gz", "s.manifest.json"])
def test_writing_through_a_symlink_is_refused(tmp_path: Path, link: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("untouched")
    (tmp_path / link).symlink_to(elsewhere)

    with pytest.raises(ConfigError) as caught:
        SnapshotWriter(tmp_path / "s.jsonl.gz", ACCOUNT_ID, CURRENT_AT)

    assert str(caught.value) == (
        f"{tmp_path / link}: is a symbolic link: a snapshot is never written through a link "
        "(hint: remove the link, or write the snapshot elsewhere)"
    )
    assert elsewhere.read_text() == "untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", link]


# -- refused files ----------------------------------------------------------------------------


def refused(earlier: Path, current: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        compare(earlier, current)
    return str(caught.value)


def recompress(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(gzip.compress(b"".join(line + b"\n" for line in lines)))


def test_an_earlier_snapshot_altered_after_it_was_written_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    lines = lines_of(earlier)
    assert lines[4].startswith(b'{"key":"user:u-bob",')
    lines[4] = lines[4].replace(b'"chat":false', b'"chat":true')
    recompress(earlier, lines)

    assert refused(earlier, current) == (
        f"{earlier}: the snapshot was altered after it was written: it is not the file "
        f"2026-11-30T10-00-00Z.manifest.json records {ALTERED_HINT}"
    )


def test_an_edited_manifest_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    manifest = json.loads(manifest_path(earlier).read_text())
    manifest["sha256"] = "0" * 64
    manifest_path(earlier).write_text(json.dumps(manifest))

    assert "the snapshot was altered after it was written" in refused(earlier, current)


def test_a_manifest_that_is_none_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    manifest_path(earlier).write_text("[1, 2")

    assert refused(earlier, current) == (
        f"{manifest_path(earlier)}: is not a snapshot manifest {ALTERED_HINT}"
    )


def test_a_changed_line_whose_hash_was_kept_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    lines = lines_of(earlier)
    assert lines[3].startswith(b'{"key":"user:u-alice",')
    lines[3] = lines[3].replace(b'"chat":true', b'"chat":false')
    recompress(earlier, lines)

    assert refused_resealed(earlier, current) == (
        f"{earlier}:4: the snapshot was altered after it was written: the line is not the one "
        f"its sha256 records {ALTERED_HINT}"
    )


def refused_resealed(earlier: Path, current: Path) -> str:
    """As `refused`, after recomputing the manifest's file hash the way a forger would: what
    each line's own check must still catch."""
    manifest = json.loads(manifest_path(earlier).read_text())
    manifest["sha256"] = hashlib.sha256(earlier.read_bytes()).hexdigest()
    manifest_path(earlier).write_text(json.dumps(manifest))
    return refused(earlier, current)


def test_a_snapshot_without_its_manifest_is_refused_and_nothing_is_compared(
    tmp_path: Path,
) -> None:
    earlier, current = pair(tmp_path)
    lines = lines_of(earlier)
    forged = json.loads(lines[4])  # bob's line, a `before` value forged, its hash recomputed
    forged["settings"]["general"]["in_meeting"]["chat"] = True
    del forged["sha256"]
    digest = hashlib.sha256(snapshot._canonical(forged).encode()).hexdigest()
    recompress(earlier, [*lines[:4], json.dumps({**forged, "sha256": digest}).encode(), *lines[5:]])
    manifest_path(earlier).unlink()
    before = sorted((p.name, p.read_bytes()) for p in earlier.parent.iterdir())

    assert refused(earlier, current) == (
        f"{earlier}: has no manifest (2026-11-30T10-00-00Z.manifest.json is not beside it): a "
        "snapshot is compared only with the manifest written with it (hint: keep the manifest "
        "beside the snapshot as `reconciler audit` wrote it, or take a new snapshot)"
    )
    assert sorted((p.name, p.read_bytes()) for p in earlier.parent.iterdir()) == before


def test_a_file_that_is_not_gzip_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    earlier.write_bytes(b'{"snapshot": "reconciler"}\n')

    assert (
        refused_resealed(earlier, current)
        == f"{earlier}:1: is not a gzip-compressed snapshot {READ_HINT}"
    )


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    earlier.write_bytes(earlier.read_bytes()[:-8])  # the end-of-stream trailer is gone

    assert refused_resealed(earlier, current) == (
        f"{earlier}:8: the compressed stream ends early: the snapshot is truncated {READ_HINT}"
    )


def test_a_last_line_without_its_end_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    whole = gzip.decompress(earlier.read_bytes())
    earlier.write_bytes(gzip.compress(whole[:-30]))

    assert refused_resealed(earlier, current) == (
        f"{earlier}:7: the last line has no end: the snapshot is truncated {READ_HINT}"
    )


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    earlier.write_bytes(gzip.compress(b""))

    assert refused_resealed(earlier, current) == f"{earlier}:1: the snapshot is empty {READ_HINT}"


@pytest.mark.parametrize(
    "header",
    [b'{"format": "sandbox", "tenant": {}}', b"[]", b'{"snapshot": "other", "format_version": 1}'],
)
def test_a_header_from_something_else_is_refused(tmp_path: Path, header: bytes) -> None:
    earlier, current = pair(tmp_path)
    recompress(earlier, [header, *lines_of(earlier)[1:]])

    assert refused_resealed(earlier, current) == (
        f"{earlier}:1: is not a reconciler snapshot: its first line is no snapshot header "
        f"{READ_HINT}"
    )


def test_another_format_version_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    header = json.loads(lines_of(earlier)[0])
    recompress(earlier, [json.dumps({**header, "format_version": 2}).encode()])

    assert refused_resealed(earlier, current) == (
        f"{earlier}:1: snapshot format version 2; this reconciler reads version 1 "
        "(hint: take a new snapshot with this version's `reconciler audit`)"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"not json", "is not a JSON line"),
        (b'{"key": "user:x", "sha256": NaN}', "is not a JSON line"),
        (b'{"key": "user:\xff"}', "is not a JSON line"),
        (b'["user:x"]', "is not a snapshot target line: not a JSON object"),
        (b'{"key": "user:x", "sha256": "abc"}', "is not a snapshot target line: no key or sha256"),
        (b"[" * 100_000, "is not a JSON line"),
    ],
)
def test_a_line_that_is_no_target_is_refused(tmp_path: Path, line: bytes, message: str) -> None:
    earlier, current = pair(tmp_path)
    lines = lines_of(earlier)
    recompress(earlier, [*lines[:3], line, *lines[3:]])

    assert refused_resealed(earlier, current) == f"{earlier}:4: {message} {READ_HINT}"


def test_a_line_with_the_fields_of_something_else_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    lines = lines_of(earlier)
    document = json.loads(lines[3])
    document["settings"] = {"general": [1, 2]}
    recompress(earlier, [*lines[:3], json.dumps(document).encode(), *lines[4:]])

    assert refused_resealed(earlier, current) == (
        f"{earlier}:4: is not a snapshot target line: its fields are not a target's {READ_HINT}"
    )


def test_a_target_that_appears_twice_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    lines = lines_of(earlier)
    recompress(earlier, [*lines, lines[2]])

    assert refused_resealed(earlier, current) == (
        f"{earlier}:8: target 'group:g-sales' appears twice {READ_HINT}"
    )


def test_a_line_over_16_mib_is_refused(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    lines = lines_of(earlier)
    recompress(earlier, [lines[0], b" " * (16 * 1024 * 1024 + 1)])

    assert refused_resealed(earlier, current) == (
        f"{earlier}:2: a line longer than 16 MiB is no snapshot line {READ_HINT}"
    )


def test_a_missing_file_a_folder_and_a_fifo_are_refused(tmp_path: Path) -> None:
    _earlier, current = pair(tmp_path)
    os.mkfifo(tmp_path / "fifo")

    assert refused(tmp_path / "nope.jsonl.gz", current) == (
        f"{tmp_path / 'nope.jsonl.gz'}: cannot read the snapshot: No such file or directory "
        f"{READ_HINT}"
    )
    assert refused(tmp_path, current) == f"{tmp_path}: is not a regular file {READ_HINT}"
    fifo = tmp_path / "fifo"
    assert refused(fifo, current) == f"{fifo}: is not a regular file {READ_HINT}"


# -- temp files of killed audits ----------------------------------------------------------------


def test_stale_temps_of_killed_audits_are_removed_by_the_next_writer(tmp_path: Path) -> None:
    folder = tmp_path / "snapshots"
    folder.mkdir()
    killed = folder / ".2026-11-30T10-00-00Z.jsonl.gz.ab12_cd.tmp"
    killed.write_bytes(b"")  # what a killed audit leaves: nobody holds its lock
    old_manifest = folder / ".2026-11-30T10-00-00Z.manifest.json.x9y8.tmp"
    old_manifest.write_text("{}")
    os.utime(old_manifest, (0, 0))
    outside = tmp_path / "keep.tmp"
    outside.write_text("not ours")
    link = folder / ".2026-11-29T10-00-00Z.jsonl.gz.zz.tmp"
    link.symlink_to(outside)
    other = folder / "notes.tmp"
    other.write_text("not a temp of ours")

    with SnapshotWriter(folder / "s.jsonl.gz", ACCOUNT_ID, CURRENT_AT) as live:
        live.add(BOB)
        # A live writer's temp is locked: another writer's sweep leaves it alone.
        assert snapshot.remove_stale_temps(folder) == []
        live.close(CURRENT_AT)

    assert sorted(p.name for p in folder.iterdir()) == [
        ".2026-11-29T10-00-00Z.jsonl.gz.zz.tmp",
        "notes.tmp",
        "s.jsonl.gz",
        "s.manifest.json",
    ]
    assert outside.read_text() == "not ours"


def test_a_temp_file_is_never_taken_as_a_snapshot(tmp_path: Path) -> None:
    earlier, current = pair(tmp_path)
    temp = earlier.with_name(f".{earlier.name}.ab12.tmp")
    temp.write_bytes(earlier.read_bytes())

    assert refused(temp, current) == (
        f"{temp}: is the temp file of an unfinished audit, not a snapshot {READ_HINT}"
    )
