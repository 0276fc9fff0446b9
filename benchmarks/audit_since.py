"""`reconciler audit --since`: the cost of comparing two snapshots, 50,000 users of which 100
changed.

Each user target carries the four settings families of one generated tenant's user, in the
repo's shape (~270 leaves, ~9 KB of JSON), with two fields varied per user so that no two lines
are alike; `changed` users, spread over the file, differ between the snapshots in one or two
fields. Writing the two snapshots is set-up; `compare` is what is timed. Target: under 10 s.

    python benchmarks/audit_since.py [--users 50000] [--changed 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reconciler.audit.snapshot import SnapshotTarget, SnapshotWriter, compare
from reconciler.sandbox import generate_tenant
from reconciler.sandbox.effective import Resolver
from reconciler.shapes import repo_shape
from reconciler.vocab import FAMILIES

ACCOUNT_ID = "bench-account"
TARGET_SECONDS = 10.0
# Varied per user in both snapshots (so lines differ as real users' do), then the fields a
# changed user changes: the first always, the second for every other changed user.
PER_USER = (("in_meeting", "chat"), ("email_notification", "alternative_host_reminder"))
CHANGED_GENERAL = ("in_meeting", "polling")
CHANGED_SECURITY = ("waiting_room",)


def user_document() -> dict[str, dict[str, Any]]:
    """One generated user's live settings, every family, in the repo's shape."""
    tenant = generate_tenant(users=10, groups=2, seed=11)
    user = next(u for u in tenant.users if u.status == "active")
    resolver = Resolver(tenant)
    return {family: repo_shape(family, resolver.user_settings(user, family)) for family in FAMILIES}


def with_leaf(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of `document` with one leaf set, sharing every branch off the path (so 50,000
    variations of one document cost little)."""
    head, *rest = path
    inner = with_leaf(document.get(head) or {}, tuple(rest), value) if rest else value
    return {**document, head: inner}


def user_targets(
    base: dict[str, dict[str, Any]], users: int, changed: dict[int, int]
) -> Iterator[SnapshotTarget]:
    """`users` users; `changed`: user index -> how many fields of it change (1 or 2)."""
    for index in range(users):
        general = with_leaf(base["general"], PER_USER[0], index % 2 == 0)
        general = with_leaf(general, PER_USER[1], index % 3 != 0)
        security = base["meeting_security"]
        if index in changed:
            general = with_leaf(general, CHANGED_GENERAL, not _leaf(general, CHANGED_GENERAL))
            if changed[index] == 2:
                flipped = not _leaf(security, CHANGED_SECURITY)
                security = with_leaf(security, CHANGED_SECURITY, flipped)
        email = f"user{index:05d}@example.test"
        yield SnapshotTarget(
            key=f"user:u{index:06d}",
            label=f"user {email}",
            level="user",
            id=f"u{index:06d}",
            email=email,
            groups=(f"Group {index % 10}",),
            settings={**base, "general": general, "meeting_security": security},
        )


def _leaf(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        document = document.get(key) or {}
    return document


def write_snapshot(path: Path, targets: Iterator[SnapshotTarget], taken_at: str) -> int:
    with SnapshotWriter(path, ACCOUNT_ID, taken_at) as writer:
        for target in targets:
            writer.add(target)
        return writer.close(taken_at).targets


def since_benchmark(users: int = 50_000, changed: int = 100) -> dict[str, Any]:
    """Write two snapshots of `users` users, `changed` of them changed, and time `compare`."""
    base = user_document()
    step = max(users // max(changed, 1), 1)
    spread = range(step // 2, users, step)[:changed]
    changed_users = {index: 1 + rank % 2 for rank, index in enumerate(spread)}
    with tempfile.TemporaryDirectory() as scratch:
        earlier = Path(scratch) / "2026-11-30T10-00-00Z.jsonl.gz"
        current = Path(scratch) / "2026-12-01T10-00-00Z.jsonl.gz"
        started = time.perf_counter()
        write_snapshot(earlier, user_targets(base, users, {}), "2026-11-30T10:00:00Z")
        write_snapshot(current, user_targets(base, users, changed_users), "2026-12-01T10:00:00Z")
        write_seconds = (time.perf_counter() - started) / 2
        started = time.perf_counter()
        report = compare(earlier, current)
        compare_seconds = time.perf_counter() - started
        sizes = earlier.stat().st_size, current.stat().st_size
    return {
        "users": users,
        "changed": len(changed_users),
        "write_seconds": write_seconds,
        "compare_seconds": compare_seconds,
        "targets_compared": report.targets_compared,
        "targets_changed": report.targets_changed,
        "field_changes": len(report.changes),
        "earlier_bytes": sizes[0],
        "current_bytes": sizes[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--changed", type=int, default=100)
    args = parser.parse_args()
    row = since_benchmark(args.users, args.changed)
    verdict = "ok" if row["compare_seconds"] < TARGET_SECONDS else "OVER TARGET"
    print(f"audit --since: {row['users']:,} users, {row['changed']} changed")
    print(
        f"{'compare s':>10}{'target s':>10}{'compared':>10}{'changed':>9}{'fields':>8}"
        f"{'earlier MB':>12}{'current MB':>12}{'write s':>9}"
    )
    print(
        f"{row['compare_seconds']:>10.2f}{TARGET_SECONDS:>10.0f}{row['targets_compared']:>10,}"
        f"{row['targets_changed']:>9}{row['field_changes']:>8}"
        f"{row['earlier_bytes'] / 1e6:>12.1f}{row['current_bytes'] / 1e6:>12.1f}"
        f"{row['write_seconds']:>9.1f}"
    )
    print(verdict)


if __name__ == "__main__":
    main()
