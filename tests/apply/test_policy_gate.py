"""A change that an enabled policy rule marks as weakening security is refused by apply unless
forced, inside `run_apply`'s own checks; a plan that introduces a violation exits 3 with
--detailed-exitcode."""

from __future__ import annotations

from pathlib import Path

from tests.apply.conftest import Served, reconciler
from tests.apply.repos import write_repo

ERIN_FILE_TRANSFER = "settings:\n  in_meeting:\n    file_transfer: true\n"  # off in Zoom today


def _repo(root: Path) -> Path:
    files = {
        "reconciler.yaml": "policies: [zoom-security-baseline]\n",
        "users/erin@acme.test.yaml": ERIN_FILE_TRANSFER,
    }
    return write_repo(root, files)


def test_a_weakening_change_is_refused_without_force(served: Served, tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    done = reconciler("apply", repo, "--yes")
    assert done.exit_code == 3, done.output
    assert done.stderr == (
        "refused: refusing an unsafe plan: 1 change(s) weaken security by a policy rule: user "
        "erin@acme.test [general] in_meeting.file_transfer "
        "(zoom-security-baseline/zsb-file-transfer-off). Check the plan, then apply with "
        "--force, or raise the `safety:` limits in reconciler.yaml\n"
    )
    assert served.patches() == []
    forced = reconciler("apply", repo, "--yes", "--force")
    assert forced.exit_code == 0, forced.output
    assert len(served.patches()) == 1


def test_the_plan_names_the_violation_it_introduces(served: Served, tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    done = reconciler("plan", repo, "--detailed-exitcode")
    assert done.exit_code == 3, done.output
    assert (
        "  INTRODUCED user erin@acme.test: zoom-security-baseline/zsb-file-transfer-off "
        "(In-meeting file transfer is off)\n"
    ) in done.stdout
    assert (
        "  WEAKENS user erin@acme.test [general] in_meeting.file_transfer: "
        "zoom-security-baseline/zsb-file-transfer-off (apply needs --force)\n"
    ) in done.stdout
    assert served.patches() == []
