"""`reconciler watch` in its own process on a real port (127.0.0.1), as a service runs it: its
log lines read as they come, deliveries posted to it signed as Zoom signs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from tests.apply.conftest import admin_client, zoom_env
from tests.watch.deliveries import SECRET, compact, signed_headers

__all__ = ["Watcher", "admin_client", "watching", "zoom_env"]

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)/zoom/events")


@dataclass
class Watcher:
    process: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    ended: bool = False  # the process closed its stderr: no more lines will come

    def read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 30) -> str:
        """The first log line from index `after` on that matches `pattern` (a regex)."""
        found = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines[after:]:
                    if found.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    shown = "\n".join(self.lines[-30:])
                    raise AssertionError(f"no log line /{pattern}/ in time; last lines:\n{shown}")
                self.changed.wait(min(left, 0.2))

    def deliver(
        self, document: dict[str, Any], *, secret: bytes = SECRET, tracking: str | None = None
    ) -> tuple[int, Any]:
        body = compact(document)
        headers = signed_headers(body, secret=secret, tracking=tracking)
        with closing(httpx2.Client(timeout=10)) as client:
            answer = client.post(f"{self.url}/zoom/events", content=body, headers=headers)
        return answer.status_code, answer.json()


@contextmanager
def watching(repo: Path, sandbox_url: str, *options: str, port: int = 0) -> Iterator[Watcher]:
    env = {
        **os.environ,
        **zoom_env(sandbox_url),
        "ZOOM_WEBHOOK_SECRET_TOKEN": SECRET.decode(),
        "NO_COLOR": "1",
    }
    command = [sys.executable, "-m", "reconciler", "watch", str(repo)]
    command += ["--listen", f"127.0.0.1:{port}", *options]
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    watcher = Watcher(process)
    reader = threading.Thread(target=watcher.read, daemon=True)
    reader.start()
    try:
        match = LISTENING.search(watcher.wait_for(LISTENING.pattern))
        assert match is not None
        watcher.url = match.group(1)
        yield watcher
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(10)
        reader.join(5)
