"""Golden files: exact expected output per scenario; `UPDATE_GOLDEN=1 pytest` rewrites them."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden"


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8", newline="")
        return
    assert path.exists(), f"{path} is missing; run UPDATE_GOLDEN=1 pytest tests/render to create it"
    with path.open(encoding="utf-8", newline="") as fh:  # newline="": a stray \r must show up
        expected = fh.read()
    assert actual == expected, f"output differs from {path.name} (UPDATE_GOLDEN=1 to accept)"
