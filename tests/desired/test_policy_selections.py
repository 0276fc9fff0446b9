"""`policies:` entries as mappings in reconciler.yaml: `{pack, profile, except, severity}`. Every
bad entry is one line at reconciler.yaml:line:col with a hint, exit 1, through `validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.connect import Connector
from reconciler.desired import load_repo
from reconciler.desired.selection import Selection


def _repo(root: Path, options: str) -> Path:
    root.mkdir(parents=True)
    (root / "reconciler.yaml").write_text(options)
    (root / "account.yaml").write_text("meeting_security:\n  waiting_room: true\n")
    return root


def _validate(repo: Path) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, ["validate", str(repo)])
    return result.exit_code, result.stdout.splitlines()


def test_a_mapping_entry_is_read_with_where_each_part_is(tmp_path: Path) -> None:
    options = (
        "policies:\n"
        "  - zoom-security-baseline\n"
        "  - pack: cis-zoom-1.0\n"
        "    profile: 1\n"
        "    except: [cis-1.1.1.8]\n"
        "    severity: [high, medium]\n"
    )
    state = load_repo(_repo(tmp_path / "repo", options))
    plain, chosen = state.selections
    assert plain == Selection("zoom-security-baseline", index=0, spots=plain.spots)
    assert (chosen.pack, chosen.profile, chosen.excluded, chosen.severities) == (
        "cis-zoom-1.0", 1, ("cis-1.1.1.8",), ("high", "medium"),
    )  # fmt: skip
    assert str(chosen.source()) == "reconciler.yaml:3:5"
    assert str(chosen.source(("except", 0))) == "reconciler.yaml:5:14"


def test_a_filtered_pack_is_valid(tmp_path: Path) -> None:
    options = "policies:\n  - {pack: cis-zoom-1.0, profile: 1, except: [cis-1.1.1.8]}\n"
    code, lines = _validate(_repo(tmp_path / "repo", options))
    assert code == 0
    assert lines[-1].endswith(": valid: account, 0 groups, 0 users")


@pytest.mark.parametrize(
    ("entry", "line"),
    [
        (
            "{pack: cis-zoom, profile: 1}",
            "reconciler.yaml:2:12: policies[0].pack: must be 'cis-zoom-1.0' or "
            "'zoom-security-baseline', got the string 'cis-zoom' (hint: did you mean "
            "'cis-zoom-1.0'?)",
        ),
        (
            "{pack: cis-zoom-1.0, except: [cis-1.1.1.88]}",
            "reconciler.yaml:2:35: policies[0].except[0]: cis-zoom-1.0 has no rule "
            "'cis-1.1.1.88' (hint: did you mean 'cis-1.1.1.8'?)",
        ),
        (
            "{pack: zoom-security-baseline, profile: 1}",
            "reconciler.yaml:2:45: policies[0].profile: zoom-security-baseline has no rule of "
            "profile 1 (hint: its rules have no profile: remove profile)",
        ),
        (
            "{pack: cis-zoom-1.0, profile: 3}",
            "reconciler.yaml:2:35: policies[0].profile: must be 1 or 2, got the number 3",
        ),
        (
            "{pack: cis-zoom-1.0, severity: [hihg]}",
            "reconciler.yaml:2:37: policies[0].severity[0]: must be 'low', 'medium', 'high' or "
            "'critical', got the string 'hihg' (hint: did you mean 'high'?)",
        ),
        (
            "{pack: cis-zoom-1.0, profiles: 1}",
            "reconciler.yaml:2:26: policies[0].profiles: unknown key "
            "(hint: did you mean 'profile'?)",
        ),
        (
            "{pack: cis-zoom-1.0, except: [cis-1.1.1.8, cis-1.1.1.8]}",
            "reconciler.yaml:2:48: policies[0].except[1]: names 'cis-1.1.1.8' twice "
            "(first at 2:35) (hint: remove one)",
        ),
        (
            "{profile: 1}",
            "reconciler.yaml:2:5: policies[0]: missing the required key 'pack'",
        ),
    ],
)
def test_a_bad_entry_is_one_line_at_its_place(tmp_path: Path, entry: str, line: str) -> None:
    code, lines = _validate(_repo(tmp_path / "repo", f"policies:\n  - {entry}\n"))
    assert code == 1
    assert lines == [line]


def test_a_pack_enabled_twice_names_the_first(tmp_path: Path) -> None:
    options = "policies:\n  - cis-zoom-1.0\n  - {pack: cis-zoom-1.0, profile: 1}\n"
    code, lines = _validate(_repo(tmp_path / "repo", options))
    assert code == 1
    assert lines == [
        "reconciler.yaml:3:5: policies[1]: enables cis-zoom-1.0 twice (first at 2:5) "
        "(hint: keep one entry for each pack)"
    ]


def test_an_entry_that_keeps_no_rule_is_refused(tmp_path: Path) -> None:
    options = (
        "policies:\n"
        "  - {pack: zoom-security-baseline, severity: [low], except: [zsb-web-client-sign-in]}\n"
    )
    code, lines = _validate(_repo(tmp_path / "repo", options))
    assert code == 1
    assert lines == [
        "reconciler.yaml:2:5: policies[0]: enables no rule of zoom-security-baseline "
        "(hint: loosen profile, except or severity)"
    ]


@pytest.mark.parametrize("command", ["plan", "audit", "apply"])
def test_nothing_is_sent_to_zoom_for_a_bad_entry(tmp_path: Path, command: str) -> None:
    repo = _repo(tmp_path / "repo", "policies:\n  - {pack: cis-zoom-1.0, except: [nope]}\n")
    requests: list[str] = []

    def counted(app: Any) -> Any:
        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            requests.append(f"{scope.get('method')} {scope.get('path')}")
            await app(scope, receive, send)

        return asgi

    connector = Connector(sandbox=True, sandbox_app=counted)
    extra = ["--yes"] if command == "apply" else []
    result = CliRunner().invoke(cli, [command, *extra, str(repo), "--sandbox"], obj=connector)
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == (
        "reconciler.yaml:2:35: policies[0].except[0]: cis-zoom-1.0 has no rule 'nope' "
        "(hint: `reconciler policy list` names them)"
    )
    assert requests == []
