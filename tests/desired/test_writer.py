"""The YAML writer: new files read back as their data, and updates change only the edited lines."""

from __future__ import annotations

import difflib
import io
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from reconciler.desired.scalars import Timestamp
from reconciler.desired.writer import (
    DELETE,
    Edit,
    FileChange,
    render_new,
    schema_header,
    summary_lines,
    update_text,
)
from reconciler.desired.yamlfile import read
from reconciler.diff import MISSING
from reconciler.errors import ValidationFailed

HEADER = "# yaml-language-server: $schema=../schemas/repo/account.schema.json"

# A file as a person writes it: every kind of formatting an update must leave alone.
HAND_WRITTEN = f"""{HEADER}
# The Acme account: head comment.
settings:
  in_meeting:
    chat: true   # chat stays on for everyone
    file_transfer: false  # reviewed 2024
    polling: True

  # Recording: a comment line between keys.
  recording:
    cloud_recording: true
    auto_recording: "local"
    archive_name: 'acme archive'
  schedule_meeting: {{host_video: false, join_before_host: true}}

meeting_security:
  waiting_room: true
  block_user_domain_list:
    - example.com
    - example.org

locks:
  meeting_security:
    waiting_room: true
"""


def data_of(text: str) -> Any:
    doc, problems = read("test.yaml", text.encode())
    assert problems == []
    return doc.data


def changed_lines(old: str, new: str) -> list[str]:
    """The `-`/`+` lines of a unified diff, without its headers and context."""
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]


# --- Updates ---------------------------------------------------------------------------------


def test_five_changes_change_exactly_five_lines() -> None:
    new, changes = update_text(
        HAND_WRITTEN,
        [
            Edit(("settings", "in_meeting", "chat"), False),
            Edit(("settings", "in_meeting", "polling"), False),
            Edit(("settings", "recording", "auto_recording"), "cloud"),
            Edit(("settings", "recording", "archive_name"), "it's acme"),
            Edit(("settings", "schedule_meeting", "host_video"), True),
            Edit(("meeting_security", "waiting_room"), True),  # already so: no change
            Edit(("meeting_security", "block_user_domain_list"), ["example.com", "example.org"]),
        ],
    )
    assert len(changed_lines(HAND_WRITTEN, new)) == 10  # five lines out, five in
    old_lines, new_lines = HAND_WRITTEN.splitlines(), new.splitlines()
    assert len(old_lines) == len(new_lines)
    differing = [(old, new) for old, new in zip(old_lines, new_lines, strict=True) if old != new]
    assert differing == [
        (
            "    chat: true   # chat stays on for everyone",
            "    chat: false   # chat stays on for everyone",
        ),
        ("    polling: True", "    polling: false"),
        ('    auto_recording: "local"', '    auto_recording: "cloud"'),
        ("    archive_name: 'acme archive'", "    archive_name: 'it''s acme'"),
        (
            "  schedule_meeting: {host_video: false, join_before_host: true}",
            "  schedule_meeting: {host_video: true, join_before_host: true}",
        ),
    ]
    assert [(change.path[-1], change.before, change.after) for change in changes] == [
        ("chat", True, False),
        ("polling", True, False),
        ("auto_recording", "local", "cloud"),
        ("archive_name", "acme archive", "it's acme"),
        ("host_video", False, True),
    ]
    assert data_of(new)["settings"]["recording"]["archive_name"] == "it's acme"


def test_strict_equality_decides_what_changes() -> None:
    text = "settings:\n  a: 1\n  b: '1'\n  c: 1.0\n"
    new, changes = update_text(
        text,
        [
            Edit(("settings", "a"), True),  # True == 1 in Python, not in YAML or to Zoom
            Edit(("settings", "b"), 1),
            Edit(("settings", "c"), 1),
        ],
    )
    assert new == "settings:\n  a: true\n  b: 1\n  c: 1\n"
    assert [change.after for change in changes] == [True, 1, 1]


def test_a_string_that_needs_quotes_is_quoted_when_the_old_one_was_plain() -> None:
    text = "settings:\n  a: cloud  # why\n  b: x\n  c: 'y'\n"
    new, _ = update_text(
        text,
        [
            Edit(("settings", "a"), "true"),
            Edit(("settings", "b"), "a: b"),
            Edit(("settings", "c"), "line\nbreak"),  # no single-quoted line break: double
        ],
    )
    assert new == 'settings:\n  a: "true"  # why\n  b: "a: b"\n  c: "line\\nbreak"\n'


def test_adding_a_key_under_an_existing_mapping_and_under_a_missing_parent() -> None:
    new, changes = update_text(
        HAND_WRITTEN,
        [
            Edit(("settings", "in_meeting", "breakout_room"), True),
            Edit(("settings", "recording", "local_recording"), False),
            Edit(("settings", "schedule_meeting", "mute_upon_entry"), True),
            Edit(("locks", "in_meeting", "chat"), True),
            Edit(("locks", "in_meeting", "polling"), False),
            Edit(("meeting_authentication", "meeting_authentication"), True),
        ],
    )
    assert changed_lines(HAND_WRITTEN, new) == [
        "+    breakout_room: true",
        "-  schedule_meeting: {host_video: false, join_before_host: true}",  # one hunk, so
        "+    local_recording: false",  # the diff shows its `-` first
        "+  schedule_meeting: {host_video: false, join_before_host: true, mute_upon_entry: true}",
        "+  in_meeting:",
        "+    chat: true",
        "+    polling: false",
        "+meeting_authentication:",
        "+  meeting_authentication: true",
    ]
    # At the end of their mapping: after its last value, before the blank line and comment
    # that belong to what follows.
    assert "    polling: True\n    breakout_room: true\n\n  # Recording" in new
    assert "'acme archive'\n    local_recording: false\n  schedule_meeting" in new
    assert new.endswith(
        "    waiting_room: true\n  in_meeting:\n    chat: true\n    polling: false\n"
        "meeting_authentication:\n  meeting_authentication: true\n"
    )
    assert all(change.before is MISSING for change in changes)
    assert data_of(new)["locks"]["in_meeting"] == {"chat": True, "polling": False}


def test_added_lines_follow_the_file_indentation() -> None:
    text = "settings:\n    in_meeting:\n        chat: true\nlocks:\n    x:\n    - a\n"
    new, _ = update_text(
        text,
        [
            Edit(("settings", "recording", "cloud_recording"), True),
            Edit(("settings", "in_meeting", "domains"), ["a", "b"]),
        ],
    )
    assert new == (
        "settings:\n    in_meeting:\n        chat: true\n"
        "        domains:\n        - a\n        - b\n"
        "    recording:\n        cloud_recording: true\nlocks:\n    x:\n    - a\n"
    )


def test_a_null_value_becomes_the_mapping_its_new_keys_need() -> None:
    text = "settings:  # nothing yet\nlocks: ~\n"
    new, _ = update_text(
        text,
        [
            Edit(("settings", "in_meeting", "chat"), True),
            Edit(("settings", "in_meeting", "polling"), False),
            Edit(("locks", "recording", "cloud_recording"), True),
        ],
    )
    assert new == (
        "settings:  # nothing yet\n  in_meeting:\n    chat: true\n    polling: false\n"
        "locks:\n  recording:\n    cloud_recording: true\n"
    )


def test_an_empty_file_gets_the_document() -> None:
    new, _ = update_text(f"{HEADER}\n", [Edit(("settings", "in_meeting", "chat"), True)])
    assert new == f"{HEADER}\nsettings:\n  in_meeting:\n    chat: true\n"
    new, _ = update_text(HEADER, [Edit(("user",), "carol")])  # no final newline
    assert new == f"{HEADER}\nuser: carol\n"


def test_deleting_a_key_and_a_mapping_left_empty() -> None:
    new, changes = update_text(
        HAND_WRITTEN,
        [
            Edit(("settings", "in_meeting", "file_transfer"), DELETE),  # with its comment
            Edit(("locks", "meeting_security", "waiting_room"), DELETE),  # locks goes too
            Edit(("settings", "schedule_meeting", "host_video"), DELETE),  # in a flow mapping
            Edit(("meeting_security", "not_there"), DELETE),  # nothing to delete: no change
        ],
    )
    assert changed_lines(HAND_WRITTEN, new) == [
        "-    file_transfer: false  # reviewed 2024",
        "-  schedule_meeting: {host_video: false, join_before_host: true}",
        "+  schedule_meeting: {join_before_host: true}",
        "-",  # the blank line before locks: the file does not end in one
        "-locks:",
        "-  meeting_security:",
        "-    waiting_room: true",
    ]
    assert new.endswith("    - example.org\n")
    assert "locks" not in data_of(new)
    assert changes == [
        FileChange(("settings", "in_meeting", "file_transfer"), False, MISSING),
        FileChange(("locks", "meeting_security", "waiting_room"), True, MISSING),
        FileChange(("settings", "schedule_meeting", "host_video"), False, MISSING),
    ]


def test_deleting_a_whole_block_keeps_neighbouring_comments() -> None:
    text = "a:\n  b: 1\n  # about c\n  c:\n    - x\n    - y\n  d: 2  # d\n"
    new, _ = update_text(text, [Edit(("a", "c"), DELETE)])
    assert new == "a:\n  b: 1\n  # about c\n  d: 2  # d\n"
    new, _ = update_text(text, [Edit(("a", "d"), DELETE), Edit(("a", "e"), 3)])
    assert new == "a:\n  b: 1\n  # about c\n  c:\n    - x\n    - y\n  e: 3\n"


def test_flow_mappings_edit_in_place() -> None:
    text = "s: {a: 1, b: 2, c: 3}  # flow\nt: {}\n"
    assert update_text(text, [Edit(("s", "b"), DELETE)])[0] == "s: {a: 1, c: 3}  # flow\nt: {}\n"
    assert update_text(text, [Edit(("s", "c"), DELETE)])[0] == "s: {a: 1, b: 2}  # flow\nt: {}\n"
    both = [Edit(("s", "b"), DELETE), Edit(("s", "c"), DELETE)]
    assert update_text(text, both)[0] == "s: {a: 1}  # flow\nt: {}\n"
    add = [Edit(("t", "x", "y"), [1, "two"]), Edit(("s", "c"), "3")]
    assert update_text(text, add)[0] == (
        's: {a: 1, b: 2, c: "3"}  # flow\nt: {x: {"y": [1, two]}}\n'  # `y` is a YAML 1.1 bool
    )


def test_lists_are_replaced_whole_in_their_own_style() -> None:
    text = "a:\n  flow: [x, y]  # kept\n  block:\n  - x  # gone with its item\n  - y\n  n: 1\n"
    new, _ = update_text(text, [Edit(("a", "flow"), ["z"]), Edit(("a", "block"), ["z", "w"])])
    assert new == "a:\n  flow: [z]  # kept\n  block:\n  - z\n  - w\n  n: 1\n"
    new, _ = update_text(text, [Edit(("a", "flow"), []), Edit(("a", "block"), [])])
    assert new == "a:\n  flow: []  # kept\n  block: []\n  n: 1\n"
    new, _ = update_text(text, [Edit(("a", "n"), ["p", "q"])])
    assert new.endswith("  n:\n  - p\n  - q\n")


def test_a_multi_line_string_becomes_a_literal_block_and_back() -> None:
    text = "a:\n  text: |\n    one\n    two\n\n  b: 1\n"
    new, _ = update_text(text, [Edit(("a", "text"), "three")])
    assert new == "a:\n  text: three\n\n  b: 1\n"
    new, _ = update_text("a:\n  text: one  # c\n", [Edit(("a", "text"), "one\ntwo")])
    assert new == "a:\n  text: |-  # c\n    one\n    two\n"
    assert data_of(new) == {"a": {"text": "one\ntwo"}}


def test_a_literal_block_never_takes_in_the_comments_after_it() -> None:
    # Lines after a literal block that are indented as deep as its text would become its text.
    text = "a:\n  b: 1\n    # about b\nc: 2\n"
    new, _ = update_text(text, [Edit(("a", "b"), "x\ny"), Edit(("a", "z"), "p\nq")])
    assert new == 'a:\n  b: "x\\ny"\n  z: "p\\nq"\n    # about b\nc: 2\n'
    new, _ = update_text("a:\n  b: 1\n# about c\nc: 2\n", [Edit(("a", "b"), "x\ny")])
    assert new == "a:\n  b: |-\n    x\n    y\n# about c\nc: 2\n"


def test_no_op_edits_give_the_same_bytes() -> None:
    edits = [
        Edit(("settings", "in_meeting", "chat"), True),
        Edit(("settings", "in_meeting", "polling"), True),
        Edit(("settings", "recording", "auto_recording"), "local"),
        Edit(("settings", "schedule_meeting", "host_video"), False),
        Edit(("meeting_security", "block_user_domain_list"), ["example.com", "example.org"]),
        Edit(("meeting_security", "missing"), DELETE),
        Edit(("locks", "recording", "cloud_recording"), True),
    ]
    assert update_text(HAND_WRITTEN, edits, add_missing=False) == (HAND_WRITTEN, [])
    for text, edit in [
        ("", Edit(("a",), DELETE)),
        ("# only a comment", Edit(("a", "b"), DELETE)),
        ("a: 1\r\nb: 'x'  \r\n", Edit(("b",), "x")),
        ("\ufeffa: {b: [1, 2]}", Edit(("a", "b"), [1, 2])),
        ("a:\n  b: |\n    x\n", Edit(("a", "b"), "x\n")),
    ]:
        assert update_text(text, [edit]) == (text, [])


def test_add_missing_false_skips_new_keys() -> None:
    edits = [
        Edit(("settings", "in_meeting", "chat"), False),
        Edit(("settings", "in_meeting", "breakout_room"), True),
        Edit(("meeting_authentication", "meeting_authentication"), True),
    ]
    new, changes = update_text(HAND_WRITTEN, edits, add_missing=False)
    assert changes == [FileChange(("settings", "in_meeting", "chat"), True, False)]
    assert changed_lines(HAND_WRITTEN, new) == [
        "-    chat: true   # chat stays on for everyone",
        "+    chat: false   # chat stays on for everyone",
    ]


def test_windows_line_endings_stay() -> None:
    text = "a:\r\n  b: 1 # c\r\n\r\nz: 2\r\n"
    new, _ = update_text(text, [Edit(("a", "b"), 2), Edit(("a", "c", "d"), [1])])
    assert new == "a:\r\n  b: 2 # c\r\n  c:\r\n    d:\r\n      - 1\r\n\r\nz: 2\r\n"


def test_edits_the_file_cannot_take_are_refused() -> None:
    with pytest.raises(ValueError, match=r"settings\.a is not a mapping"):
        update_text("settings:\n  a: 1\n", [Edit(("settings", "a", "b"), 1)])
    with pytest.raises(ValueError, match="not a mapping"):
        update_text("- a\n", [Edit(("settings",), 1)])
    with pytest.raises(ValueError, match=r"both settings and settings\.a"):
        update_text("", [Edit(("settings",), {}), Edit(("settings", "a"), 1)])
    with pytest.raises(ValueError, match="two edits"):
        update_text("", [Edit(("a",), 1), Edit(("a",), 2)])
    with pytest.raises(TypeError, match="tuple"):
        update_text("", [Edit(("a",), (1, 2))])
    with pytest.raises(ValidationFailed) as caught:
        update_text("a: 1\na: 2\n", [Edit(("a",), 3)], file="users/x.yaml")
    assert "users/x.yaml:2:1" in str(caught.value.problems[0])


def test_summary_lines() -> None:
    changes = [
        FileChange(("settings", "in_meeting", "chat"), True, False),
        FileChange(("settings", "in_meeting", "polling"), MISSING, True),
        FileChange(("locks", "meeting_security", "waiting_room"), True, MISSING),
        FileChange(("meeting_security", "domains"), ["a"], ["a", "b\u202e"]),
    ]
    assert summary_lines("account.yaml", changes) == [
        "account.yaml",
        "  ~ settings.in_meeting.chat: true -> false",
        "  + settings.in_meeting.polling: true",
        "  - locks.meeting_security.waiting_room (was true)",
        '  ~ meeting_security.domains: ["a"] -> ["a", "b\\u202e"]',
    ]
    assert summary_lines("account.yaml", []) == []


# --- New files ---------------------------------------------------------------------------------

TRICKY = [
    "true", "True", "false", "yes", "no", "on", "off", "y", "n", "null", "Null", "~", "",
    "1", "-3", "+7", "08", "0o17", "0x1F", "1.5", "1e3", ".inf", ".nan", "1_000", "0b101",
    "2027-01-01", "2024-01-31T09:00:00Z", "12:30", "a: b", "a:b", "a #b", "a#b", "#x", "- x",
    "-", "? x", "[x]", "{x}", "x, y", "*alias", "&anchor", "!tag", "|", ">", "%x", "@x", "`x",
    "'x'", '"x"', "<<", "=", " leading", "trailing ", "tab\tinside", "café", "日本語", "emoji 🎉",
    "line\nbreak", "ends\n", "two\n\n", "\nstarts", "cr\rlf", "nul\0", "bell\x07", "del\x7f",
    "next\x85line", "sep\u2028ara", "bom\ufeff", "rtl\u202eltr", "back\\slash", "---", "...",
    "Sign in to Zoom with specified domains", "acme.test", "https://zoom.us/x?y=1",
]  # fmt: skip


def test_render_new_writes_yaml_1_2_core_scalars() -> None:
    text = render_new(
        schema_header("../schemas/repo/user.schema.json"),
        {
            "settings": {
                "in_meeting": {"chat": True, "polling": False, "auto_saving_chat": None},
                "recording": {"auto_recording": "cloud", "length": 10, "ratio": 0.5},
                "schedule_meeting": {"domains": ["acme.test", "true"], "empty": [], "none": {}},
            },
            "user": "carol@acme.test",
        },
    )
    assert text == (
        "# yaml-language-server: $schema=../schemas/repo/user.schema.json\n"
        "settings:\n"
        "  in_meeting:\n"
        "    chat: true\n"
        "    polling: false\n"
        "    auto_saving_chat: null\n"
        "  recording:\n"
        "    auto_recording: cloud\n"
        "    length: 10\n"
        "    ratio: 0.5\n"
        "  schedule_meeting:\n"
        "    domains:\n"
        "      - acme.test\n"
        '      - "true"\n'
        "    empty: []\n"
        "    none: {}\n"
        "user: carol@acme.test\n"
    )


@pytest.mark.parametrize("value", TRICKY)
def test_render_new_round_trips_tricky_strings(value: str) -> None:
    document = {"settings": {"value": value, value: "as a key", "list": [value]}}
    text = render_new(HEADER, document)
    assert text.startswith(HEADER + "\n") and text.endswith("\n") and not text.endswith("\n\n")
    assert "---" not in text.splitlines()[1:2]
    data = data_of(text)
    assert data == document
    assert list(data["settings"]) == list(document["settings"])
    assert type(data["settings"]["value"]) is str


def test_render_new_quotes_only_what_needs_it() -> None:
    document = {"a": "cloud", "b": "true", "c": "1", "d": "2027-01-01", "e": "null", "f": "",
                "g": "x: y", "h": "- x", "i": "yes", "j": "multi\nline"}  # fmt: skip
    text = render_new("", document)
    assert text == (
        'a: cloud\nb: "true"\nc: "1"\nd: "2027-01-01"\ne: "null"\nf: ""\ng: "x: y"\n'
        'h: "- x"\ni: "yes"\nj: |-\n  multi\n  line\n'
    )


def test_render_new_keeps_key_order_and_writes_special_numbers() -> None:
    document = {"z": 1, "a": float("inf"), "m": -0.5, "b": float("-inf"), "c": 10**30}
    text = render_new("", document)
    assert text == "z: 1\na: .inf\nm: -0.5\nb: -.inf\nc: 1000000000000000000000000000000\n"
    assert list(data_of(text)) == ["z", "a", "m", "b", "c"]
    assert math.isnan(data_of(render_new("", {"x": float("nan")}))["x"])
    assert render_new(HEADER, {}) == f"{HEADER}\n{{}}\n"


def test_render_new_refuses_what_a_settings_file_cannot_hold() -> None:
    with pytest.raises(TypeError):
        render_new("", {"a": (1, 2)})
    with pytest.raises(TypeError):
        render_new("", {1: "x"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="comment lines"):
        render_new("not a comment", {})
    with pytest.raises(ValueError, match="longer than YAML allows"):
        render_new("", {"k" * 2000: 1})
    assert render_new("", {"d": Timestamp("2027-01-01")}) == "d: 2027-01-01\n"


# --- Properties ----------------------------------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.sampled_from(TRICKY)
)
KEYS = st.text(max_size=30) | st.sampled_from(TRICKY)
DOCUMENTS = st.dictionaries(
    KEYS,
    st.recursive(
        SCALARS | st.lists(SCALARS, max_size=4),
        lambda inner: st.dictionaries(KEYS, inner, max_size=5),
        max_leaves=20,
    ),
    max_size=6,
)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(DOCUMENTS)
def test_render_new_then_read_gives_the_data_back(document: dict[str, Any]) -> None:
    data = data_of(render_new(HEADER, document))
    assert data == document
    assert repr(data) == repr(document)  # types and key order too: 1 is not True, not 1.0


def leaves(document: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in document.items():
        if isinstance(value, dict) and value:
            found += leaves(value, (*prefix, key))
        else:
            found.append((*prefix, key))
    return found


@PROPERTY
@given(DOCUMENTS, st.data())
def test_updates_read_back_as_the_edited_data(
    document: dict[str, Any], data: st.DataObject
) -> None:
    text = render_new(HEADER, document)
    paths = leaves(document)
    chosen = data.draw(st.lists(st.sampled_from(paths), unique=True) if paths else st.just([]))
    edits = [Edit(path, data.draw(SCALARS | st.just(DELETE))) for path in chosen]
    if "\0new" not in document:  # and a key under a new parent
        new_path = ("\0new", *data.draw(st.lists(KEYS, max_size=2)))
        edits.append(Edit(new_path, data.draw(SCALARS)))
    new, changes = update_text(text, edits)
    # update_text reads its result back and compares with the edited data; check here too.
    read_back = data_of(new)
    for change in changes:
        node = read_back
        for key in change.path[:-1]:
            node = node.get(key, {}) if isinstance(node, dict) else {}
        assert node.get(change.path[-1], MISSING) == change.after or (
            isinstance(change.after, float) and math.isnan(change.after)
        )
    if not changes:
        assert new == text


def paths_of(document: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, value in document.items():
        found.append((*prefix, key))
        if isinstance(value, dict):
            found += paths_of(value, (*prefix, key))
    return found


def reads_as(text: str, document: Any) -> bool:
    doc, problems = read("test.yaml", text.encode())
    return not problems and repr(doc.data) == repr(document)


EDIT_VALUES = (
    SCALARS
    | st.lists(SCALARS, max_size=3)
    | st.dictionaries(KEYS, SCALARS, max_size=2)
    | st.just(DELETE)
)


@settings(PROPERTY, max_examples=100)
@given(DOCUMENTS, st.data())
def test_updates_of_files_written_any_way_read_back_as_the_edited_data(
    document: dict[str, Any], data: st.DataObject
) -> None:
    """Files as another tool or a person writes them: any indentation, flow or block style,
    comments at line ends and between lines, extra spaces, CRLF, no final newline."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = data.draw(st.sampled_from([False, None, True]))
    mapping = data.draw(st.integers(2, 4))
    offset = data.draw(st.integers(0, mapping - 2))
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    yaml.width = data.draw(st.sampled_from([20, 4096]))
    yaml.allow_unicode = True
    out = io.StringIO()
    yaml.dump(document, out)
    assume(reads_as(out.getvalue(), document))
    lines = out.getvalue().split("\n")
    for _ in range(data.draw(st.integers(0, 8))):
        at = data.draw(st.integers(0, len(lines) - 1))
        trial = list(lines)
        match data.draw(st.sampled_from(["end", "line", "blank", "spaces"])):
            case "end":
                trial[at] += "  # c"
            case "line":
                trial.insert(at, " " * data.draw(st.integers(0, 6)) + "# c")
            case "blank":
                trial.insert(at, "")
            case _:
                trial[at] = trial[at].replace(": ", ":   ", 1)
        if reads_as("\n".join(trial), document):  # a mutation that keeps the data
            lines = trial
    text = "\n".join(lines)
    text = text.rstrip("\n") if data.draw(st.booleans()) else text
    text = text.replace("\n", "\r\n") if data.draw(st.booleans()) else text
    assume(reads_as(text, document))
    edits: list[Edit] = []
    paths = paths_of(document)
    chosen = st.lists(st.sampled_from(paths), max_size=5, unique=True) if paths else st.just([])
    for path in data.draw(chosen):
        if not any(path[: len(e.path)] == e.path or e.path[: len(path)] == path for e in edits):
            edits.append(Edit(path, data.draw(EDIT_VALUES)))
    if "\0new" not in document:
        edits.append(Edit(("\0new", *data.draw(st.lists(KEYS, max_size=2))), 1))
    try:
        new, changes = update_text(text, edits)  # raises when the result reads back wrong
    except ValueError as exc:  # `? key` (an explicit key) is refused, never guessed at
        assert "cannot edit" in str(exc) or "line of its own" in str(exc)
        return
    if not changes:
        assert new == text
    if len(edits) == 1:  # only a key added: every comment stays
        assert new.count("# c") >= text.count("# c")
