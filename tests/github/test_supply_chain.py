"""What the workflows and the action run is what they name: every action pinned to a commit, no
checkout leaving its token on disk, nothing added to PATH or the environment by a file write, and
the action's dependencies from a lock with hashes that still matches pyproject.toml, installed for
real by the action's own install step."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from ruamel.yaml import YAML

from tests.github.standin import run_job
from tests.plan.sandbox_repo import commit_all, git_repo, prepare

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
EXAMPLES = sorted((ROOT / "examples" / "github").glob("*.yml"))
ACTION = ROOT / "action.yml"
LOCK = ROOT / "requirements" / "action.txt"
BUILD_IN = ROOT / "requirements" / "action-build.in"

# `owner/repo[/path]@<40 hex> # vX.Y.Z`: the commit, and the release it is, for a reader and
# for Dependabot, which updates both.
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$")
USES_LINE = re.compile(r"^\s*(?:- )?uses:\s*(.+?)\s*$", re.M)


def uses_lines(path: Path) -> list[str]:
    return USES_LINE.findall(path.read_text())


def steps(path: Path) -> list[dict]:
    document = YAML(typ="safe").load(path.read_text())
    if "runs" in document:
        return list(document["runs"]["steps"])
    return [s for job in document["jobs"].values() for s in job.get("steps", [])]


def test_every_action_is_pinned_to_a_commit_or_is_this_repository_at_its_commit() -> None:
    seen = 0
    for path in [*WORKFLOWS, ACTION]:
        for uses in uses_lines(path):
            seen += 1
            assert uses.startswith("$/") or PINNED.match(uses), f"{path.name}: {uses}"
    assert seen > 10


def test_the_templates_call_only_the_tools_reusable_workflows() -> None:
    # Their one unpinned reference, by design (.github/zizmor.yml): the user pins the release.
    for path in EXAMPLES:
        for uses in uses_lines(path):
            assert re.fullmatch(
                r"zoom-reconciler/reconciler/\.github/workflows/\w+\.yml@v\d+", uses
            ), f"{path.name}: {uses}"
        text = path.read_text()
        assert "Pin to the release's commit" in text
        assert "secrets: inherit" not in text


def test_no_checkout_keeps_its_credentials() -> None:
    checkouts = [
        step
        for path in [*WORKFLOWS, ACTION]
        for step in steps(path)
        if str(step.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts
    for step in checkouts:
        assert (step.get("with") or {}).get("persist-credentials") is False, step


def test_no_step_writes_path_or_environment_files_and_none_runs_quiet() -> None:
    for path in [*WORKFLOWS, ACTION]:
        for step in steps(path):
            script = step.get("run", "")
            assert "GITHUB_PATH" not in script and "GITHUB_ENV" not in script, path.name
            # Progress lines in the log: a five-minute apply is not a silent one.
            assert "--quiet" not in script.replace("pip install --quiet", ""), path.name


def locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of requirements/action.txt."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in LOCK.read_text().splitlines():
        found = re.match(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", line)
        if found:
            current = canonicalize_name(found.group(1))
            entries[current] = (found.group(2), [])
        elif line.strip().startswith("--hash=sha256:"):
            entries[current][1].append(line.strip().removesuffix("\\").strip())
    return entries


def test_the_action_lock_pins_every_dependency_of_pyproject_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [Requirement(text) for text in project["project"]["dependencies"]]
    build = [Requirement(text) for text in project["build-system"]["requires"]]
    build_in = [
        Requirement(line) for line in BUILD_IN.read_text().splitlines() if line and line[0] != "#"
    ]
    assert {str(r) for r in build_in} == {str(r) for r in build}
    entries = locked()
    for requirement in [*wanted, *build]:
        name = canonicalize_name(requirement.name)
        assert name in entries, f"{name} is not in {LOCK.name}: regenerate it (its first lines)"
        version, _ = entries[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{LOCK.name} pins {name}=={version}, pyproject.toml asks {requirement}"
        )
    for name, (version, hashes) in entries.items():
        assert hashes, f"{name}=={version} has no hash"
    # What each locked package needs is locked too, where this venv has the same release to ask.
    for name, (version, _) in entries.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        for text in dist.requires or []:
            needed = Requirement(text)
            if needed.marker is None or needed.marker.evaluate({"extra": ""}):
                assert canonicalize_name(needed.name) in entries, f"{name} needs {needed}"
    assert "uv pip compile pyproject.toml requirements/action-build.in" in LOCK.read_text()


def test_the_action_installs_from_the_lock_with_hashes_and_runs(tmp_path: Path) -> None:
    """The action's steps as Actions runs them, its install included: a fresh venv, the lock
    with --require-hashes, the tool from the checkout; then a plan with the tool it installed."""
    repo = tmp_path / "settings"
    shutil.copytree(ROOT / "examples" / "acme", repo, ignore=shutil.ignore_patterns(".reconciler"))
    git_repo(repo)
    commit_all(repo, "the settings")
    prepare(repo)
    temp = tmp_path / "runner"
    temp.mkdir()
    run = run_job(
        ACTION,
        workspace=repo,
        inputs={
            "command": "plan",
            "path": ".",
            "args": "--sandbox --format json --out plan.json",
            "report": "plan.json",
        },
        github={"action_path": str(ROOT)},
        env={},
        runner_temp=temp,
        installed=False,
    )
    assert not run.failed, run.output
    install = run.step("install")
    assert install.ran and install.code == 0, install.stdout + install.stderr
    tool = temp / "reconciler-venv" / "bin" / "reconciler"
    assert tool.is_file() and not tool.is_symlink()
    outputs = dict(
        line.split("=", 1)
        for text in (p.read_text() for p in sorted(temp.glob("output-*")))
        for line in text.splitlines()
    )
    assert outputs["reconciler"] == str(tool)
    assert outputs["exit-code"] == "0"
    plan = json.loads((repo / "plan.json").read_text())
    assert outputs["changes"] == str(plan["summary"]["changes_pending"])
