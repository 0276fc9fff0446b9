"""Reading one file: YAML 1.2 scalars, positions, and what a settings file may not contain."""

from __future__ import annotations

import pytest

from reconciler.desired.problems import Spot
from reconciler.desired.scalars import Timestamp, resolve_plain
from reconciler.desired.yamlfile import read


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True), ("False", False), ("TRUE", True),
        ("on", "on"), ("yes", "yes"), ("off", "off"), ("n", "n"),
        ("", None), ("~", None), ("null", None), ("NULL", None),
        ("8", 8), ("-3", -3), ("+7", 7), ("08", 8), ("0o17", 15), ("0x1F", 31),
        ("1.5", 1.5), ("1e3", 1000.0), (".inf", float("inf")), ("-.Inf", float("-inf")),
        ("2024-01-31", Timestamp("2024-01-31")),
        ("2024-01-31T09:00:00Z", Timestamp("2024-01-31T09:00:00Z")),
        ("1_000", "1_000"), ("0b101", "0b101"), ("12:30", "12:30"), ("v1.2", "v1.2"),
    ],
)  # fmt: skip
def test_plain_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    assert resolve_plain(text) == value
    assert type(resolve_plain(text)) is type(value)


def test_quoted_scalars_stay_strings() -> None:
    doc, problems = read("f.yaml", b"a: 'true'\nb: \"8\"\nc: |\n  on\n")
    assert problems == []
    assert doc.data == {"a": "true", "b": "8", "c": "on\n"}


def test_positions_of_keys_and_values() -> None:
    doc, _ = read("f.yaml", b"settings:\n  in_meeting:\n    chat: true\n    list: [a, b]\n")
    assert doc.keys[("settings", "in_meeting", "chat")] == Spot(3, 5)
    assert doc.values[("settings", "in_meeting", "chat")] == Spot(3, 11)
    assert doc.values[("settings", "in_meeting", "list", 1)] == Spot(4, 15)
    assert doc.spot(("settings", "in_meeting", "nope")) == Spot(3, 5)  # the enclosing mapping


def test_an_empty_value_is_placed_at_its_key() -> None:
    doc, _ = read("f.yaml", b"a:\n  b:\nc: 1\n")
    assert doc.data == {"a": {"b": None}, "c": 1}
    assert doc.values[("a", "b")] == Spot(2, 3)


def test_a_byte_order_mark_is_accepted() -> None:
    doc, problems = read("f.yaml", b"\xef\xbb\xbfa: 1\n")
    assert (doc.data, problems) == ({"a": 1}, [])


def test_empty_and_comment_only_files_have_no_data() -> None:
    assert read("f.yaml", b"")[0].data is None
    assert read("f.yaml", b"# just a comment\n")[0].data is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a: 1\nb:\n  c: 1\n  c: 2\n",
         "f.yaml:4:3: b.c: duplicate key (first at line 3)"
         " (hint: keep one of the two; YAML mappings have unique keys)"),
        (b"a: !custom 1\n",
         "f.yaml:1:4: a: tag !custom: YAML tags are not allowed"
         " (hint: remove the tag; a value's type comes from how it is written)"),
        (b"a: &x 1\n",
         "f.yaml:1:4: a: anchor &x: anchors and aliases are not allowed"
         " (hint: write the value out in full)"),
        (b"a: [1, \xc3\n",
         "f.yaml:1:8: not UTF-8: byte 0xc3 cannot be decoded (hint: save the file as UTF-8)"),
        (b"a: 1\n...\n---\nb: 2\n",
         "f.yaml:3:1: a second YAML document: a settings file holds exactly one"
         " (hint: remove the '---' line, or move the second document to a file of its own)"),
        (b"%TAG !e! tag:example.com,2024:\n---\na: 1\n",
         "f.yaml:2:1: %TAG directives are not allowed (hint: remove the directive)"),
        (b"a: 'unterminated\n",
         "f.yaml:2:1: YAML syntax error: found unexpected end of stream"
         " (hint: while scanning a quoted scalar that starts at line 1, column 4)"),
    ],
)  # fmt: skip
def test_yaml_level_problems(raw: bytes, expected: str) -> None:
    _, problems = read("f.yaml", raw)
    assert [str(found) for found in problems] == [expected]


def test_an_alias_bomb_stops_at_the_first_alias() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    doc, problems = read("f.yaml", "\n".join(lines).encode())
    assert [str(p).split(": ", 2)[1] for p in problems] == ["a", "b", "b[0]"]
    assert doc.data == {"a": ["x"] * 9, "b": []}
