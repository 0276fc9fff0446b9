"""`evidence.verify` against hostile bundles: listed both ways, plain paths only, no links
followed, nothing read outside the bundle, a bad manifest one line."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.audit.evidence import Verification, verify
from reconciler.cli import cli
from reconciler.errors import ConfigError
from tests.plan.sandbox_repo import prepare

FILES = {"audit.json": b'{"findings": []}\n', "audit.md": b"# Audit\n", "s.jsonl.gz": b"\x1f\x8b"}
HINT = "(hint: pass a folder written by `reconciler audit --evidence`)"


def entry(path: str, data: bytes) -> dict[str, Any]:
    return {"path": path, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def bundle(tmp_path: Path, files: dict[str, bytes] = FILES) -> Path:
    folder = tmp_path / "evidence"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    write_listing(folder, [entry(name, data) for name, data in files.items()])
    return folder


def write_listing(folder: Path, files: list[dict[str, Any]]) -> None:
    (folder / "manifest.json").write_text(json.dumps({"format_version": 1, "files": files}))


def tree(folder: Path) -> list[tuple[str, bytes]]:
    return sorted((str(p), p.read_bytes()) for p in folder.rglob("*") if p.is_file())


def test_an_intact_bundle_is_verified(tmp_path: Path) -> None:
    assert verify(bundle(tmp_path)) == Verification(3, [])


def test_missing_extra_and_edited_files_are_each_named(tmp_path: Path) -> None:
    folder = bundle(tmp_path)
    (folder / "audit.md").unlink()
    (folder / "audit.json").write_bytes(b'{"findings": ["forged"]}\n')
    (folder / "audit.html").write_text("<p>added afterwards</p>")

    assert verify(folder) == Verification(
        1,
        [
            "audit.json: was edited: its sha256 is not the one the manifest records",
            "audit.md: is in the manifest but missing from the bundle",
            "audit.html: is a file not in the manifest",
        ],
    )


def test_an_edited_file_whose_entry_was_removed_is_caught(tmp_path: Path) -> None:
    folder = bundle(tmp_path)
    (folder / "audit.json").write_bytes(b"forged")
    write_listing(folder, [entry("audit.md", FILES["audit.md"])])

    assert verify(folder).problems == [
        "audit.json: is a file not in the manifest",
        "s.jsonl.gz: is a file not in the manifest",
    ]


def test_an_empty_listing_with_every_file_forged_fails(tmp_path: Path) -> None:
    folder = bundle(tmp_path, dict.fromkeys(FILES, b"forged"))
    write_listing(folder, [])

    assert verify(folder) == Verification(
        0,
        [
            "audit.json: is a file not in the manifest",
            "audit.md: is a file not in the manifest",
            "s.jsonl.gz: is a file not in the manifest",
            "manifest.json: lists no files: a bundle always holds its reports",
        ],
    )


@pytest.mark.parametrize(
    "path",
    ["../../etc/passwd", "/etc/passwd", "sub\\..\\..\\x", "audit.md\x00", "./audit.md", "a//b", ""],
)
def test_a_path_that_is_not_plain_and_inside_is_never_read(tmp_path: Path, path: str) -> None:
    folder = bundle(tmp_path, {})
    outside = tmp_path / "outside"
    outside.write_bytes(b"secret")
    write_listing(folder, [entry(path, b"secret")])
    before = tree(tmp_path)

    found = verify(folder)

    shown = path.replace("\x00", "\\x00")
    assert found.checked == 0
    assert found.problems[0] == (
        f"{shown}: is not a plain relative path inside the bundle; it was not read"
    )
    assert tree(tmp_path) == before


def test_a_link_in_the_bundle_is_not_followed(tmp_path: Path) -> None:
    folder = bundle(tmp_path)
    outside = tmp_path / "outside.json"
    outside.write_bytes(FILES["audit.json"])
    (folder / "audit.json").unlink()
    (folder / "audit.json").symlink_to(outside)
    os.symlink(tmp_path, folder / "up")

    found = verify(folder)

    assert found.checked == 2
    assert found.problems == [
        "audit.json: is a symbolic link (to outside the repo), not a file: it was not read",
        "up: is a symbolic link (to outside the repo) not in the manifest",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON"),
        ("[]", "is not an evidence manifest: `files` must be a list of {path, sha256, bytes}"),
        (
            '{"files": [{"path": 1, "sha256": "x", "bytes": 0}]}',
            "is not an evidence manifest: `files` must be a list of {path, sha256, bytes}",
        ),
        (
            '{"files": {"audit.md": "ab"}}',
            "is not an evidence manifest: `files` must be a list of {path, sha256, bytes}",
        ),
    ],
)
def test_a_malformed_manifest_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    folder = bundle(tmp_path)
    (folder / "manifest.json").write_text(text)

    with pytest.raises(ConfigError) as caught:
        verify(folder)

    assert str(caught.value) == f"{folder / 'manifest.json'}: {message} {HINT}"


def test_a_manifest_that_is_a_link_or_missing_is_refused(tmp_path: Path) -> None:
    folder = bundle(tmp_path)
    (folder / "manifest.json").rename(tmp_path / "elsewhere.json")
    with pytest.raises(ConfigError) as caught:
        verify(folder)
    assert str(caught.value) == (
        f"{folder / 'manifest.json'}: cannot read the manifest: No such file or directory"
    )
    (folder / "manifest.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ConfigError) as caught:
        verify(folder)
    assert str(caught.value).startswith(f"{folder / 'manifest.json'}: is a symbolic link")


# -- `reconciler audit verify DIR` --------------------------------------------------------------


def verify_cli(folder: Path, key: str | None = None) -> Result:
    env = {"NO_COLOR": "1", "RECONCILER_EVIDENCE_KEY": key}
    result = CliRunner().invoke(cli, ["audit", "verify", str(folder)], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_the_command_exits_0_with_the_count_of_files_checked(tmp_path: Path) -> None:
    folder = bundle(tmp_path)
    done = verify_cli(folder)
    assert done.exit_code == 0
    assert done.stdout == f"Verified: 3 files match the manifest in {folder}\n"
    assert done.stderr == (
        "note: the manifest's signature was not checked: RECONCILER_EVIDENCE_KEY is not set\n"
    )


def test_the_command_exits_3_with_a_line_per_altered_file(tmp_path: Path) -> None:
    folder = bundle(tmp_path)
    (folder / "audit.json").write_bytes(b"forged")
    (folder / "extra.txt").write_text("added")
    before = tree(tmp_path)
    done = verify_cli(folder)
    assert done.exit_code == 3
    assert done.stdout == (
        "altered: audit.json: was edited: its sha256 is not the one the manifest records\n"
        "altered: extra.txt: is a file not in the manifest\n"
    )
    assert tree(tmp_path) == before  # nothing written


def test_the_command_exits_1_on_a_malformed_manifest(tmp_path: Path) -> None:
    folder = bundle(tmp_path)
    (folder / "manifest.json").write_text("{not json")
    done = verify_cli(folder)
    assert done.exit_code == 1
    assert done.stdout == ""
    assert done.stderr == f"error: {folder / 'manifest.json'}: is not JSON {HINT}\n"


# -- the optional HMAC key ------------------------------------------------------------------------

KEY = "k3y-that-must-never-show"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle written by a real audit of the sandbox with the key set."""
    repo = tmp_path_factory.mktemp("signed") / "repo"
    prepare(repo, None)
    evidence = repo.parent / "evidence"
    done = CliRunner().invoke(
        cli,
        ["audit", str(repo), "--sandbox", "--quiet", "--evidence", str(evidence)],
        env={"RECONCILER_EVIDENCE_KEY": KEY},
    )
    assert done.exit_code == 0, done.output
    assert KEY not in done.output
    return evidence


def copy_of(bundle_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(bundle_dir, folder)
    return folder


def test_the_manifest_records_the_algorithm_and_never_the_key(signed: Path) -> None:
    manifest = json.loads((signed / "manifest.json").read_text())
    assert manifest["signature"]["algorithm"] == "HMAC-SHA256"
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["signature"]["value"])
    assert all(KEY.encode() not in p.read_bytes() for p in signed.rglob("*") if p.is_file())
    done = verify_cli(signed, KEY)
    assert done.exit_code == 0
    assert done.stdout.startswith("Verified: ") and done.stderr == ""


def recompute(folder: Path, forged: str) -> None:
    """What a forger without the key does: edit a file, then recompute its entry."""
    (folder / "audit.md").write_text(forged)
    manifest = json.loads((folder / "manifest.json").read_text())
    for item in manifest["files"]:
        if item["path"] == "audit.md":
            item.update(entry("audit.md", forged.encode()))
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_a_recomputed_bundle_is_caught_with_the_key(signed: Path, tmp_path: Path) -> None:
    folder = copy_of(signed, tmp_path)
    recompute(folder, "# All clean\n")
    before = tree(folder)

    done = verify_cli(folder, KEY)

    assert done.exit_code == 3
    assert done.stdout == (
        "altered: manifest.json: its signature does not match: altered, or signed with another "
        "key\n"
    )
    assert KEY not in done.output
    assert tree(folder) == before
    unkeyed = verify_cli(folder)  # without the key, hashes alone cannot tell
    assert unkeyed.exit_code == 0
    assert "signature was not checked" in unkeyed.stderr


def test_a_signature_removed_or_from_another_key_is_caught(signed: Path, tmp_path: Path) -> None:
    folder = copy_of(signed, tmp_path)
    assert verify_cli(folder, "another key").stdout == (
        "altered: manifest.json: its signature does not match: altered, or signed with another "
        "key\n"
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["signature"]
    (folder / "manifest.json").write_text(json.dumps(manifest))

    done = verify_cli(folder, KEY)

    assert done.exit_code == 3
    assert done.stdout == (
        "altered: manifest.json: is not signed, and RECONCILER_EVIDENCE_KEY is set: it was not "
        "written with the key\n"
    )


def test_the_big_reports_are_gzipped_and_an_edit_inside_one_is_caught(
    signed: Path, tmp_path: Path
) -> None:
    folder = copy_of(signed, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = {item["path"] for item in manifest["files"]}
    assert {"audit.json.gz", "audit.junit.xml.gz", "audit.sarif.gz", "audit.md"} <= listed
    assert not listed & {"audit.json", "audit.junit.xml", "audit.sarif"}
    packed = folder / "audit.json.gz"
    report = json.loads(gzip.decompress(packed.read_bytes()))
    assert report["kind"] == "audit" and report["summary"]["clean"] is True
    # A forger re-compresses an edited report: still a good gzip, no longer the listed bytes.
    report["summary"]["clean"] = False
    packed.write_bytes(gzip.compress(json.dumps(report).encode()))

    done = verify_cli(folder, KEY)

    assert done.exit_code == 3
    assert done.stdout == (
        "altered: audit.json.gz: was edited: its sha256 is not the one the manifest records\n"
    )
