"""The position-tracking JSON reader: same values as `json.loads`, plus where they were."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.plans.jsonpos import MAX_NESTING, JsonSyntaxError, JsonTooDeep, read_json

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values, st.sampled_from([None, 0, 2]))
def test_values_match_json_loads(value: object, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)
    assert read_json(text).value == json.loads(text)


def test_lines_of_containers_keys_and_items() -> None:
    text = '{\n  "a": [\n    1,\n    {"b": 2}\n  ],\n  "c": "x"\n}'
    doc = read_json(text)
    root = doc.value
    assert isinstance(root, dict)
    arr = root["a"]
    assert isinstance(arr, list)
    assert doc.line(root) == 1
    assert doc.key_line(root, "a") == 2
    assert doc.line(arr) == 2
    assert [doc.item_line(arr, i) for i in range(2)] == [3, 4]
    assert doc.line(arr[1]) == 4
    assert doc.key_line(root, "c") == 6
    assert doc.key_line(root, "missing", 99) == 99
    assert doc.line("not a container") == 0


def test_duplicate_keys_keep_the_last_value_and_are_listed() -> None:
    text = '{"a": {"x": 1},\n "a": {"y": [2]}}'
    doc = read_json(text)
    assert doc.value == {"a": {"y": [2]}}
    [(key, first, again)] = doc.duplicates
    assert key == "a"
    assert (doc.line_of(first), doc.line_of(again)) == (1, 2)
    assert isinstance(doc.value, dict)
    assert doc.line(doc.value["a"]) == 2


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("", 1),
        ('{"a": 1,\n}', 2),
        ('{"a"\n 1}', 2),
        ("[1, 2]\n]", 2),
        ('{"a": "\n"}', 1),
        ("[NaN]", 1),
        ("[01]", 1),
        ("[" * 100_000 + "]" * 100_000, 1),
        ("[" + "9" * 5000 + "]", 1),
        ('\n\n"\\x"', 3),
    ],
)
def test_syntax_errors_have_positions(text: str, line: int) -> None:
    with pytest.raises(JsonSyntaxError) as info:
        read_json(text)
    assert read_json_line(text, info.value.pos) == line


def read_json_line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def test_nesting_up_to_the_limit_is_read_and_past_it_refused() -> None:
    at_limit = "[" * MAX_NESTING + "]" * MAX_NESTING
    assert read_json(at_limit).value == json.loads(at_limit)
    past = "[\n" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1)
    with pytest.raises(JsonTooDeep) as info:
        read_json(past)
    assert read_json_line(past, info.value.pos) == MAX_NESTING + 1


@pytest.mark.parametrize("depth", [1, 2, 3, None])
def test_shallow_reads_give_the_same_values(depth: int | None) -> None:
    text = '{"a": [{"b": [1, {"c": "d\\n"}]}], "e": {"f": null}}'
    doc = read_json(text, track_depth=depth)
    assert doc.value == json.loads(text)
    assert doc.exact == (depth is None)


def test_untracked_duplicate_falls_back_to_full_tracking() -> None:
    text = '{"a": [{"b": 1,\n "b": 2}]}'
    doc = read_json(text, track_depth=1)
    assert doc.exact
    assert [(k, doc.line_of(p)) for k, _, p in doc.duplicates] == [("b", 2)]
