"""Off a terminal, a long plan tells the CI log how far it has got: a line at least every 10 s."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.sandbox import SandboxConfig, generate_tenant
from tests.apply.conftest import serving, zoom_env
from tests.apply.repos import write_repo


@pytest.mark.slow
def test_a_3000_user_plan_writes_a_progress_line_at_least_every_10_seconds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            "reconciler.yaml": "rate_tier: business\n",
            "defaults.yaml": "settings:\n  in_meeting:\n    chat: true\n",  # reaches everyone
        },
    )
    config = SandboxConfig(latency_ms=50)
    with serving(monkeypatch, generate_tenant(users=3000, groups=5, seed=3), config) as served:
        command = [sys.executable, "-m", "reconciler", "plan", str(repo)]
        env = {**os.environ, **zoom_env(served.url), "NO_COLOR": "1"}
        started = time.monotonic()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert process.stderr is not None
        stamps = [(time.monotonic() - started, line) for line in process.stderr]
        assert process.wait(timeout=300) == 0
    ended = time.monotonic() - started
    times = [0.0, *(stamp for stamp, _ in stamps), ended]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert ended > 30  # long enough to need progress lines at all
    assert max(gaps) <= 11, stamps  # 10 s, with a second of slack for a busy machine
    assert all(line.startswith("plan: ") for _, line in stamps)
    assert "3000/3000 (100%)" in stamps[-1][1] or "took" in stamps[-1][1]
