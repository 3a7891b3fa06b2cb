"""Loading plan files: format choice, unreadable files, encodings, `plan_to_json`."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from plait.errors import PlanError
from plait.plans import load_plan, plan_to_json

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def test_loads_markdown_and_json_fixtures() -> None:
    md = load_plan(FIXTURES / "session_auth.md")
    js = load_plan(str(FIXTURES / "session_auth.json"))
    assert md.name == js.name == "session-auth"
    assert md.source == str(FIXTURES / "session_auth.md")
    assert len(md.tasks) == 8
    assert len(js.tasks) == 5


def test_format_is_sniffed_without_a_known_suffix(tmp_path: pathlib.Path) -> None:
    shutil.copy(FIXTURES / "session_auth.json", tmp_path / "plan.txt")
    shutil.copy(FIXTURES / "session_auth.md", tmp_path / "gameplan")
    assert len(load_plan(tmp_path / "plan.txt").tasks) == 5
    assert len(load_plan(tmp_path / "gameplan").tasks) == 8


def test_markdown_suffix_wins_over_sniffing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "plan.MD"
    path.write_text("{not json}\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert info.value.problems[0].message == "the plan has no title"


def test_missing_file_is_a_plan_error_at_line_zero(tmp_path: pathlib.Path) -> None:
    with pytest.raises(PlanError) as info:
        load_plan(tmp_path / "nope.md")
    [problem] = info.value.problems
    assert problem.line == 0
    assert "cannot read the plan" in problem.message
    assert problem.hint
    assert problem.render().startswith(f"{tmp_path / 'nope.md'}: ")


def test_directory_and_nul_in_path_are_plan_errors(tmp_path: pathlib.Path) -> None:
    for bad in (tmp_path, str(tmp_path / "a\0b.md")):
        with pytest.raises(PlanError):
            load_plan(bad)


def test_non_utf8_names_the_line(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "plan.md"
    path.write_bytes(b"# T\n### Patch 1: caf\xe9\n")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    [problem] = info.value.problems
    assert problem.line == 2
    assert "UTF-8" in problem.hint


def test_byte_order_mark_is_ignored(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xef\xbb\xbf" + (FIXTURES / "session_auth.json").read_bytes())
    assert len(load_plan(path).tasks) == 5


def test_plan_to_json_is_json_ready() -> None:
    rows = plan_to_json(load_plan(FIXTURES / "session_auth.md"))
    assert rows[3] == {
        "id": "4",
        "title": "Login issues a session",
        "class": "BEHAVIOR",
        "depends_on": ["2", "3"],
    }
    assert json.loads(json.dumps(rows)) == rows


def test_plan_to_json_null_class(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p.md"
    path.write_text("# T\n### Patch x: Do x\n")
    assert plan_to_json(load_plan(path)) == [
        {"id": "x", "title": "Do x", "class": None, "depends_on": []}
    ]
