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


def run_reconciler(env: dict[str, str], *args: str) -> tuple[int, str, str, float]:
    """`reconciler ARGS` in a fresh process with `env` (a sandbox's ZOOM_* variables): its exit
    code, stdout, stderr and wall time."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        env={**os.environ, **env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr, time.monotonic() - started
