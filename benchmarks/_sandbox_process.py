"""Start `reconciler sandbox serve` in its own process and read the environment it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

EXPORT = re.compile(r"^export (ZOOM_[A-Z_]+)=(\S+)$")


@contextmanager
def sandbox_process(*options: str, timeout: float = 60.0) -> Iterator[dict[str, str]]:
    """Serve a sandbox on 127.0.0.1 with these `sandbox serve` options; yield its ZOOM_* vars."""
    command = [sys.executable, "-m", "reconciler", "sandbox", "serve", "--port", "0", *options]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"}
    )
    try:
        yield _read_exports(process, timeout)
    finally:
        process.terminate()
        process.wait(10)


def _read_exports(process: subprocess.Popen[str], timeout: float) -> dict[str, str]:
    assert process.stdout is not None
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while "ZOOM_CLIENT_SECRET" not in found:
        line = process.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox did not start (exit code {process.poll()})")
        match = EXPORT.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip("'\"")
    return found
