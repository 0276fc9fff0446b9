"""How long `reconciler validate` takes on a big repo: 10,000 user files and 50 groups.

    python benchmarks/load.py [--users N] [--groups N] [--repeat N]

Generates a repo in a temporary folder (user files of 3 to 20 lines, all four families; group files
with settings, locks and a members profile), then times `load_repo` on it and prints a table.
The target is under 10 s for 10,000 users and 50 groups.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from reconciler.desired import load_repo

SCHEMA_LINE = "# yaml-language-server: $schema=../../schemas/repo/{kind}.schema.json\n"

# Pieces of user files, by family; a user file takes one to four of them.
USER_PIECES: list[tuple[str, str]] = [
    ("settings", "  in_meeting:\n    chat: {b}\n    polling: {b}\n"),
    ("settings", "  recording:\n    auto_recording: {rec}\n    cloud_recording: {b}\n"),
    ("settings", "  schedule_meeting:\n    host_video: {b}\n    participants_video: {b}\n"),
    (
        "meeting_security",
        "  waiting_room: {b}\n  meeting_password_requirement:\n"
        "    length: {n}\n    have_number: {b}\n",
    ),
    (
        "meeting_authentication",
        "  meeting_authentication: {b}\n  authentication_options:\n"
        "    Sign in to Zoom:\n      visible: {b}\n",
    ),
    ("recording_authentication", "  recording_authentication: {b}\n"),
]

GROUP_TEXT = """settings:
  in_meeting:
    file_transfer: {b}
    screen_sharing: {b}
locks:
  in_meeting:
    screen_sharing: true
members:
  priority: {priority}
  settings:
    in_meeting:
      breakout_room: {b}
      remote_control: {b}
    recording:
      auto_recording: {rec}
  meeting_security:
    waiting_room: true
"""


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        b=rng.choice(["true", "false"]),
        rec=rng.choice(["local", "cloud", "none"]),
        n=rng.choice([8, 10, 12]),
        priority="{priority}",
    )


def user_text(rng: random.Random) -> str:
    """A user file of 3 to 20 lines, from one to four pieces."""
    chosen = rng.sample(USER_PIECES, rng.randint(1, 4))
    families: dict[str, str] = {}
    for family, body in sorted(chosen, key=USER_PIECES.index):
        families[family] = families.get(family, "") + _fill(body, rng)
    text = "".join(f"{family}:\n{body}" for family, body in families.items())
    return SCHEMA_LINE.format(kind="user") + text


def generate(root: Path, users: int, groups: int, seed: int = 4) -> int:
    rng = random.Random(seed)
    (root / "users").mkdir(parents=True)
    (root / "groups").mkdir()
    for index in range(groups):
        text = _fill(GROUP_TEXT, rng).replace("{priority}", str(index * 10))
        (root / "groups" / f"group-{index:02d}.yaml").write_text(
            SCHEMA_LINE.format(kind="group") + text, encoding="utf-8"
        )
    for index in range(users):
        (root / "users" / f"user{index:05d}@example.test.yaml").write_text(
            user_text(rng), encoding="utf-8"
        )
    return users + groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        files = generate(root, args.users, args.groups)
        lines = sum(len(p.read_text().splitlines()) for p in root.rglob("*.yaml"))
        print(f"{'files':>8} {'lines':>8} {'seconds':>8} {'files/s':>8}")
        for _ in range(args.repeat):
            start = time.perf_counter()
            state = load_repo(root)
            seconds = time.perf_counter() - start
            assert len(state.users) == args.users
            print(f"{files:>8} {lines:>8} {seconds:>8.2f} {files / seconds:>8.0f}")


if __name__ == "__main__":
    main()
