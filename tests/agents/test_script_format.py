"""Validation of agent script files: every mistake is an AgentError saying where."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.agents.script import Action, ScriptTurn, load_script, parse_script
from plait.agents.scripted import pick_turn
from plait.errors import AgentError


def test_a_full_script_parses() -> None:
    script = parse_script(
        {
            "tasks": {
                "T1": {
                    "start": [
                        {
                            "say": "done",
                            "actions": [
                                {"write": "a", "content": "x"},
                                {"append": "a", "content": "y"},
                                {"run": ["make", "test"]},
                                {"merge": True},
                                {"commit": "msg"},
                                {"sleep": 0.5},
                                {"fail": "usage_limit", "message": "m", "reset_at": 10},
                                {"crash": 2},
                                {"hang": 3},
                            ],
                        }
                    ]
                }
            },
            "default": {"ci": [{"say": "fixed"}]},
        }
    )
    (turn,) = script.turns("T1", "start")
    assert [a.op for a in turn.actions] == [
        "write", "append", "run", "merge", "commit", "sleep", "fail", "crash", "hang",
    ]  # fmt: skip
    assert turn.actions[2] == Action(op="run", argv=("make", "test"))
    assert turn.actions[6].reset_at == 10.0
    assert turn.actions[7].code == 2
    assert script.turns("T2", "ci") == (ScriptTurn(say="fixed"),)  # default
    assert script.turns("T1", "ci") == (ScriptTurn(say="fixed"),)
    assert script.turns("T1", "review") == ()


def test_turn_selection_repeats_the_last_entry() -> None:
    script = parse_script({"default": {"human": [{"say": "a"}, {"say": "b"}]}})
    picked = [pick_turn(script, "T", "human", n) for n in range(4)]
    assert [t.say if t else None for t in picked] == ["a", "b", "b", "b"]
    assert pick_turn(script, "T", "start", 0) is None


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ([], "expected a JSON object"),
        ({"task": {}}, "unknown key 'task'"),
        ({"default": {"deploy": []}}, "unknown turn kind 'deploy'"),
        ({"default": {"start": {"say": "x"}}}, "default.start: expected a list"),
        ({"default": {"start": [{"say": 3}]}}, "default.start[0]"),
        ({"default": {"start": [{"actions": [{"jump": 1}]}]}}, "actions[0]: unknown action"),
        ({"tasks": {"T": {"ci": [{"actions": [{"run": "make"}]}]}}}, "tasks.T.ci[0].actions[0]"),
        ({"default": {"start": [{"actions": [{"fail": "stalled"}]}]}}, "unknown failure"),
        ({"default": {"start": [{"actions": [{"sleep": -1}]}]}}, "non-negative"),
        ({"default": {"start": [{"actions": [{"write": "a"}]}]}}, '"content" must be'),
    ],
)
def test_mistakes_name_their_place(data: object, where: str) -> None:
    with pytest.raises(AgentError) as info:
        parse_script(data, source="s.json")
    assert where in info.value.message
    assert info.value.hint


def test_load_script_errors(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="cannot read"):
        load_script(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(AgentError, match="not valid JSON"):
        load_script(bad)
