"""Prompt rendering: the evidence of each turn kind, the rules, per-project overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.agents import render_prompt
from plait.agents.prompts import TURN_KINDS
from plait.core.effects import Turn
from plait.core.model import ReviewThread
from plait.errors import AgentError


def turn(kind: str, **fields: object) -> Turn:
    base: dict[str, object] = {
        "kind": kind,
        "title": "Add a health endpoint",
        "description": "Serve GET /health returning 200.",
        "branch": "plait/health",
        "base_branch": "main",
    }
    return Turn(**{**base, **fields})  # type: ignore[arg-type]


def assert_rules(prompt: str) -> None:
    lowered = prompt.lower()
    assert "only in this worktree" in lowered
    assert "commit" in lowered
    assert "never push" in lowered
    assert "pull request" in lowered
    assert "never touch the `main` branch" in lowered


@pytest.mark.parametrize("kind", TURN_KINDS)
def test_every_kind_renders_with_title_branch_and_rules(kind: str) -> None:
    prompt = render_prompt(turn(kind, text="x", onto="main", paths=("a.py",)))
    assert "Add a health endpoint" in prompt
    assert "plait/health" in prompt
    assert "$" not in prompt
    assert_rules(prompt)


def test_start_carries_description_and_branch() -> None:
    prompt = render_prompt(turn("start"))
    assert "Serve GET /health returning 200." in prompt
    assert "`plait/health`" in prompt
    assert "based on `main`" in prompt


def test_human_message_is_quoted() -> None:
    prompt = render_prompt(turn("human", text="Please use port 8080.\nAnd add a test."))
    assert "> Please use port 8080.\n> And add a test." in prompt


def test_ci_evidence_is_fenced_even_with_backticks_inside() -> None:
    evidence = "FAILED tests/test_health.py::test_ok\n```\nassert 404 == 200"
    prompt = render_prompt(turn("ci", text=evidence))
    assert f"````\n{evidence}\n````" in prompt


def test_review_threads_show_location_outdated_author_and_body() -> None:
    threads = (
        ReviewThread(id="t1", body="Use a constant.", author="ana", path="app.py", line=12),
        ReviewThread(id="t2", body="Old remark", author="bo", path="app.py", line=3, outdated=True),
        ReviewThread(id="t3", body="Looks good overall, one nit.", author="cy"),
    )
    prompt = render_prompt(turn("review", threads=threads))
    assert "`app.py:12` — @ana\n\n> Use a constant." in prompt
    assert "`app.py:3` [outdated] — @bo" in prompt
    assert "conversation — @cy" in prompt
    assert prompt.index("Use a constant.") < prompt.index("Old remark")


def test_conflict_names_paths_and_the_branch_to_merge() -> None:
    prompt = render_prompt(turn("conflict", onto="plait/dep", paths=("a.py", "docs/b.md")))
    assert "- `a.py`\n- `docs/b.md`" in prompt
    assert "git merge plait/dep" in prompt


def test_summary_is_included_for_a_fresh_session() -> None:
    prompt = render_prompt(turn("nudge", summary="Added the route; tests pending."))
    assert "Added the route; tests pending." in prompt


def test_override_replaces_the_template_but_keeps_the_rules(tmp_path: Path) -> None:
    (tmp_path / "start.md").write_text("Custom: $title on $branch costs $$5\n")
    prompt = render_prompt(turn("start"), overrides_dir=tmp_path)
    assert prompt.startswith("Custom: Add a health endpoint on plait/health costs $5")
    assert_rules(prompt)
    # Kinds without an override use the built-in template.
    assert "CI failed" in render_prompt(turn("ci", text="e"), overrides_dir=tmp_path)


def test_bad_override_and_unknown_kind_are_agent_errors(tmp_path: Path) -> None:
    (tmp_path / "human.md").write_text("Hello $nobody\n")
    with pytest.raises(AgentError, match=r"\$nobody"):
        render_prompt(turn("human", text="hi"), overrides_dir=tmp_path)
    (tmp_path / "ci.md").write_text("Cost: $ 5\n")
    with pytest.raises(AgentError, match="malformed"):
        render_prompt(turn("ci"), overrides_dir=tmp_path)
    with pytest.raises(AgentError, match="unknown turn kind"):
        render_prompt(turn("dance"))
