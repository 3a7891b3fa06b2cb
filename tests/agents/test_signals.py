"""What a worker's final answer signals: "nothing to do", and follow-up tasks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plait.agents.signals import MAX_PROPOSALS, nothing_to_do, proposals


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("Checked.\nNOTHING TO DO: the function already exists", "the function already exists"),
        ("**Nothing to do** — it was fixed in abc123", "it was fixed in abc123"),
        ("nothing_to_do", "the agent said there is nothing to do"),
        ("NOTHING TO DO: a\nNOTHING TO DO: b", "b"),
        ("There is nothing to document here.", ""),
        ("I did it. Nothing to do with the cache.", ""),
        ("", ""),
    ],
)
def test_nothing_to_do_is_a_line_of_its_own(reply: str, reason: str) -> None:
    assert nothing_to_do(reply) == reason


def test_proposals_come_from_plait_tasks_blocks_and_bad_items_are_left_out_with_why() -> None:
    reply = (
        "Done. Two follow-ups:\n"
        "```plait-tasks\n"
        '[{"summary": "Add caching", "acceptance": ["hit rate > 90%"], "files": ["c.py"]},\n'
        ' {"id": "docs", "summary": "Document it", "dependencies": ["t1-f1"]},\n'
        ' {"id": "bad id", "summary": "x"}]\n'
        "```\n"
        "````plait-tasks\n"
        '{"summary": "One more", "colour": "red"}\n'
        "````\n"
        "```json\n"
        '{"summary": "not a proposal"}\n'
        "```\n"
    )
    specs, problems = proposals(reply, "t1")
    assert [s.id for s in specs] == ["t1-f1", "docs"]
    assert specs[0].acceptance == ("hit rate > 90%",)
    assert specs[1].depends_on == ("t1-f1",)
    assert all(s.origin == "agent:t1" and s.queue == "tasks" for s in specs)
    assert len(problems) == 2
    assert "contains a space" in problems[0]
    assert "unknown key 'colour'" in problems[1]


def test_proposals_are_bounded_and_garbage_is_a_reason_not_a_crash() -> None:
    many = ",".join('{"summary": "s"}' for _ in range(MAX_PROPOSALS + 5))
    specs, problems = proposals(f"```plait-tasks\n[{many}]\n```", "t")
    assert len(specs) == MAX_PROPOSALS
    assert problems
    specs, problems = proposals("```plait-tasks\n{not json\n```", "t")
    assert specs == ()
    assert "not valid JSON" in problems[0]


@given(st.text(max_size=500))
def test_any_reply_is_read_without_an_error(reply: str) -> None:
    nothing_to_do(reply)
    proposals(reply, "t")
    proposals(f"```plait-tasks\n{reply}\n```", "t")
