"""A pack's `benchmark:` and `manual:` items: parsed as hostile input, each problem one line at
file:line:col; and chosen by a `policies:` entry as its rules are."""

from __future__ import annotations

from pathlib import Path

from reconciler.desired.selection import Selection
from reconciler.policy import load_selected, parse_pack
from reconciler.policy.packs import enabled_manual, selection_problems
from tests.policy.helpers import HEAD, parsed, problems_of, rule_text


def manual(*entries: str) -> str:
    return "manual:\n" + "".join(f"  - {entry}\n" for entry in entries)


GOOD = "{id: m1, title: Rooms need a passcode, profile: 2, check: 'Zoom Rooms: passcode on.'}"


def test_a_manual_item_loads_with_its_line() -> None:
    text = HEAD + rule_text() + manual(GOOD, "{id: m2, title: T, check: C}")
    pack, problems = parsed(text)
    assert problems == []
    assert pack is not None
    first, second = pack.manual
    assert (first.pack, first.id, first.item, first.title, first.check) == (
        "p", "m1", "m1", "Rooms need a passcode", "Zoom Rooms: passcode on.",
    )  # fmt: skip
    assert (first.file, first.line, first.profile, second.profile) == ("p.yaml", 11, 2, None)
    assert pack.benchmark is None and pack.rules[0].item is None


def test_unknown_keys_and_wrong_types_are_reported_where_written() -> None:
    text = HEAD + rule_text() + manual(
        "{id: m1, title: T, chek: C}",
        "{id: m2, title: 3, check: C, profile: 3}",
        "just text",
    )  # fmt: skip
    assert problems_of(text) == [
        "p.yaml:11:5: manual[0]: missing the required key 'check'",
        "p.yaml:11:24: manual[0].chek: unknown key (hint: did you mean 'check'?)",
        "p.yaml:12:21: manual[1].title: must be a non-empty string, got the number 3",
        "p.yaml:12:43: manual[1].profile: must be 1 or 2 (the CIS profile level), got the number 3",
        "p.yaml:13:5: manual[2]: must be a mapping, got the string 'just text'",
    ]
    assert problems_of(HEAD + rule_text() + "manual: {id: m1}\n") == [
        "p.yaml:10:9: manual: must be a list, got a mapping"
    ]


def test_duplicate_ids_and_a_rules_id_are_refused() -> None:
    text = HEAD + rule_text() + manual(GOOD, GOOD, "{id: r1, title: T, check: C}")
    assert problems_of(text) == [
        "p.yaml:12:10: manual[1].id: duplicate manual item id 'm1' (first at line 11)",
        "p.yaml:13:10: manual[2].id: the manual item's id 'r1' is a rule's id (line 4) "
        "(hint: a manual item is for what no rule checks: remove one of them)",
    ]


BENCH = "pack: p\ntitle: A test pack\nbenchmark: Test Benchmark v1\nrules:\n"


def test_a_benchmark_pack_names_each_item_in_its_ids() -> None:
    text = BENCH + rule_text(id="tb-1.2") + rule_text(id="tb-1.2-user") + manual(
        "{id: tb-1.10, title: T, check: C}",
    )  # fmt: skip
    pack, problems = parsed(text)
    assert problems == [] and pack is not None
    assert (pack.benchmark, [rule.item for rule in pack.rules]) == (
        "Test Benchmark v1",
        ["1.2", "1.2"],
    )
    assert [item.item for item in pack.manual] == ["1.10"]


def test_a_benchmark_pack_refuses_ids_without_an_item_and_items_twice() -> None:
    text = BENCH + rule_text(id="tb-1.2") + rule_text(id="waiting-room") + manual(
        "{id: tb-1.2-group, title: T, check: C}",
        "{id: checklist, title: T, check: C}",
    )  # fmt: skip
    hint = "(hint: e.g. cis-1.1.2.3, or cis-1.1.2.3-user where one item needs a rule per level)"
    assert problems_of(text) == [
        f"p.yaml:11:9: rules[1].id: the id 'waiting-room' names no benchmark item (the pack has "
        f"`benchmark:`) {hint}",
        "p.yaml:18:10: manual[0].id: item 1.2 is checked by rule 'tb-1.2' (line 5) "
        "(hint: a manual item is for what no rule checks: remove one of them)",
        f"p.yaml:19:10: manual[1].id: the id 'checklist' names no benchmark item (the pack has "
        f"`benchmark:`) {hint}",
    ]
    assert problems_of(BENCH.replace("Test Benchmark v1", "''") + rule_text(id="tb-1")) == [
        "p.yaml:3:12: benchmark: must be a non-empty string, got the string ''"
    ]


# -- chosen by a policies: entry ------------------------------------------------------------------

PROFILES = HEAD + rule_text(profile="1") + manual(
    "{id: m1, title: T, profile: 1, check: C}",
    "{id: m2, title: T, profile: 2, check: C}",
    "{id: m3, title: T, check: C}",
)  # fmt: skip


def test_a_profile_keeps_the_manual_items_it_keeps_rules_by() -> None:
    pack, _problems = parsed(PROFILES)
    assert pack is not None

    def ids(selection: Selection) -> list[str]:
        return [item.id for item in enabled_manual(selection, pack)]

    assert ids(Selection("p")) == ["m1", "m2", "m3"]
    assert ids(Selection("p", profile=1)) == ["m1", "m3"]
    assert ids(Selection("p", profile=2)) == ["m1", "m2", "m3"]
    assert ids(Selection("p", excluded=("m3",))) == ["m1", "m2"]
    assert ids(Selection("p", severities=("high",))) == []  # no severity to keep them by
    # `except:` may name a manual item; an id neither has is still refused
    assert selection_problems(Selection("p", excluded=("m2",)), pack) == []
    (unknown,) = selection_problems(Selection("p", excluded=("m22",)), pack)
    assert str(unknown) == "policy pack p: p has no rule 'm22' (hint: did you mean 'm2'?)"


def test_load_selected_keeps_the_entrys_manual_items(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(PROFILES, encoding="utf-8")
    (pack,) = load_selected([Selection("policies/p.yaml", profile=1)], repo=tmp_path)
    assert [item.id for item in pack.manual] == ["m1", "m3"]
    (cis,) = load_selected([Selection("cis-zoom-1.0", profile=1)])
    assert all(item.profile == 1 for item in cis.manual)
    assert len(cis.manual) == 5  # 1.1.3.19, 1.1.4.1.2, 1.1.4.5, 1.1.5.1, 1.1.6.6


def test_the_documented_benchmark_pack_loads() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "policy-format.md"
    section = doc.read_text(encoding="utf-8").split("## Benchmarks and manual items", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    pack, problems = parse_pack("doc.yaml", block.encode())
    assert [str(problem) for problem in problems] == []
    assert pack is not None
    assert ([rule.item for rule in pack.rules], [item.item for item in pack.manual]) == (
        ["1.1.2.3"],
        ["1.1.1.5"],
    )
