"""The example pack in docs/policy-format.md loads and its examples hold."""

from __future__ import annotations

import re
from pathlib import Path

from reconciler.policy import parse_pack, run_examples

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy-format.md"


def test_the_documented_pack_loads_and_its_examples_hold() -> None:
    block = re.search(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block is not None
    pack, problems = parse_pack("doc.yaml", block.group(1).encode(), shipped=True)
    assert [str(problem) for problem in problems] == []
    assert pack is not None
    assert all(result.ok for result in run_examples(pack))
