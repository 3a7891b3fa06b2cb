"""Values a plan may not carry: text that git, a terminal, argv or SQLite cannot take.

A lone UTF-16 surrogate (`"a\\ud800b"` in JSON) passed validation and then crashed every
place that encodes text; a NUL cannot go into argv, where prompts are passed; an escape
character would drive the terminal that shows a title; a 4,301-digit `complexity` raised
Python's integer-size ValueError. Each is refused at validation, with its file:line.
"""

from __future__ import annotations

import json
import pathlib
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.errors import PlanError, PlanProblem
from plait.plans import load_plan, parse_json, parse_markdown
from tests.cli.helpers_cli import plait

HEAD = '{\n "projectName": "x",\n "patches": [\n'


def json_problems(text: str) -> list[PlanProblem]:
    with pytest.raises(PlanError) as info:
        parse_json(text, "p.json")
    return list(info.value.problems)


def md_problems(text: str) -> list[PlanProblem]:
    with pytest.raises(PlanError) as info:
        parse_markdown(text, "p.md")
    return list(info.value.problems)


@pytest.mark.parametrize(
    ("escaped", "what"),
    [
        ("a\\ud800b", "lone surrogate U+D800"),
        ("a\\udfffb", "lone surrogate U+DFFF"),
        ("\\udc00\\ud800", "lone surrogate U+DC00"),  # and U+D800: two problems
        ("a\\u0000b", "NUL character U+0000"),
        ("a\\u001b[2Jb", "control character U+001B"),
        ("a\\bb", "control character U+0008"),
        ("a\\u009bb", "control character U+009B"),
    ],
)
def test_a_json_string_with_a_character_nothing_can_show_is_refused(
    escaped: str, what: str
) -> None:
    text = HEAD + f'  {{"number": 1,\n   "title": "{escaped}"}}\n ]\n}}\n'
    found = json_problems(text)
    assert [p.line for p in found] == [5] * len(found)
    assert what in found[0].message


@pytest.mark.parametrize(
    "escaped",
    ["\\ud83d\\ude00", "😀", "\\\\ud800", "a\\\\\\\\ud800", "tab\\tand\\nnewline", "\\u00e9"],
)
def test_pairs_escaped_backslashes_and_plain_text_are_fine(escaped: str) -> None:
    text = HEAD + f'  {{"number": 1, "title": "One", "spec": "{escaped}"}}\n ]\n}}\n'
    plan = parse_json(text, "p.json")
    assert plan.task("1").description


def test_a_lone_surrogate_anywhere_in_the_document_is_refused_at_its_line() -> None:
    text = HEAD + '  {"number": 1, "title": "One"}\n ],\n "testMap": {"k": "\\ud800"}\n}\n'
    [problem] = json_problems(text)
    assert problem.line == 6


def test_a_markdown_plan_with_a_control_character_names_its_line() -> None:
    found = md_problems("# T\n### Patch 1: One\nText \x1b[31mred\n### Patch 2: T\x00wo\n")
    assert [(p.line, p.message) for p in found] == [
        (3, "the plan holds a control character U+001B"),
        (4, "the plan holds a NUL character U+0000"),
    ]
    assert "remove it" in found[0].hint


def test_a_markdown_text_with_a_lone_surrogate_is_refused() -> None:
    [problem] = md_problems("# T\n### Patch 1: a\ud800b\n")
    assert (problem.line, problem.message) == (2, "the plan holds a lone surrogate U+D800")


def test_tabs_form_feeds_and_crlf_are_fine_in_markdown() -> None:
    plan = parse_markdown("# T\r\n### Patch 1: One\r\n\tcode\f\r\n", "p.md")
    assert plan.ids == ("1",)


@pytest.mark.parametrize("title", ["two\\nlines", "carriage\\rreturn", "line\\u2028separator"])
def test_a_title_must_be_one_line(title: str) -> None:
    text = HEAD + f'  {{"number": 1,\n   "title": "{title}"}}\n ]\n}}\n'
    [problem] = json_problems(text)
    assert problem.line == 4
    assert problem.message.startswith("task '1' has a title of more than one line")


def test_the_plan_title_must_be_one_line() -> None:
    [problem] = json_problems('{"projectName": "a\\nb", "patches": [{"number": 1, "title": "x"}]}')
    assert problem.message.startswith("the plan's title has more than one line")


@pytest.mark.parametrize("value", ['"' + "1" * 4301 + '"', "1" * 4000, "1000001", '"1000001"'])
def test_a_huge_complexity_is_refused(value: str) -> None:
    text = HEAD + f'  {{"number": 1, "title": "One",\n   "complexity": {value}}}\n ]\n}}\n'
    [problem] = json_problems(text)
    assert problem.line == 5
    assert "from 1 to 1,000,000" in problem.message


def test_the_largest_complexity_is_accepted() -> None:
    text = HEAD + '  {"number": 1, "title": "One", "complexity": "1000000"}\n ]\n}\n'
    assert parse_json(text, "p.json").task("1").weight == 1_000_000


def test_plait_validate_refuses_a_lone_surrogate_with_exit_3(tmp_path: pathlib.Path) -> None:
    plan = tmp_path / "p.json"
    plan.write_text(
        json.dumps({"projectName": "x", "patches": [{"number": 1, "title": "a\ud800b"}]})
    )
    for mode in ([], ["--json"]):
        proc = plait("validate", str(plan), *mode, home=tmp_path)
        assert proc.returncode == 3, proc.stderr
        assert f"{plan}:1: the plan holds a lone surrogate U+D800" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_load_plan_reports_a_huge_complexity_in_a_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(HEAD + '  {"number": 1, "title": "One", "complexity": "' + "9" * 5000 + '"}]}')
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert info.value.problems[0].line == 4


# Letters, spaces and symbols, with the categories that cause trouble mixed in.
odd_text = st.text(st.characters(categories=["Cs", "Cc", "Zl", "Zp", "Zs", "Ll", "So"]), max_size=6)


@settings(max_examples=300, deadline=None)
@given(odd_text, odd_text, odd_text, st.booleans())
def test_a_plan_that_validates_holds_only_text_everything_can_take(
    title: str, spec: str, problem_statement: str, ascii_only: bool
) -> None:
    doc = {
        "projectName": "x",
        "problemStatement": problem_statement,
        "patches": [{"number": 1, "title": "T" + title, "spec": spec}],
    }
    text = json.dumps(doc, ensure_ascii=ascii_only)
    try:
        plan = parse_json(text, "p.json")
    except PlanError as exc:
        messages = [p.message for p in exc.problems]
        allowed = ("the plan holds", "more characters like these", "task '1' has a title of")
        assert all(m.startswith(allowed) for m in messages)
        return
    task = plan.task("1")
    for value in (plan.title, task.title, task.description, plan.context):
        value.encode("utf-8")
        assert not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in value)
    assert len(task.title.splitlines()) == 1
