"""The script backend run for real through `run_turn` in a real git repository."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from plait.agents import AgentEvent, ScriptBackend, ToolResult, TurnOutcome, TurnSpec, run_turn
from plait.agents.script import STREAM_FAILURES
from plait.agents.scripted import UNSCRIPTED, session_id_for

RunGit = Callable[..., str]
Script = Callable[[object], str]


def turn(
    repo: Path,
    env: dict[str, str],
    script: str | None,
    *,
    kind: str = "start",
    events: list[AgentEvent] | None = None,
    **spec: object,
) -> TurnOutcome:
    fields: dict[str, object] = {"prompt": "Do the task.", "workdir": str(repo), "task_id": "T1"}
    full = TurnSpec(**{**fields, "kind": kind, **spec})  # type: ignore[arg-type]
    sink = events.append if events is not None else None
    return asyncio.run(run_turn(ScriptBackend(script=script), full, on_event=sink, base_env=env))


def test_a_turn_edits_commits_and_reports(
    repo: Path, agent_env: dict[str, str], run_git: RunGit, script_file: Script
) -> None:
    script = script_file(
        {
            "tasks": {
                "T1": {
                    "start": [
                        {
                            "say": "Added the greeting.",
                            "actions": [
                                {"write": "src/hello.txt", "content": "hello\n"},
                                {"append": "README.md", "content": "more\n"},
                                {"run": ["git", "status", "--short"]},
                                {"commit": "add greeting"},
                            ],
                        }
                    ]
                }
            }
        }
    )
    events: list[AgentEvent] = []
    outcome = turn(repo, agent_env, script, events=events)
    assert outcome.ok, outcome
    assert outcome.reply == "Added the greeting."
    assert outcome.session_id == session_id_for("T1")
    assert outcome.session_id.startswith("script-T1-")
    assert outcome.exit_code == 0
    assert outcome.failure == ""
    assert outcome.events_seen == len(events)
    assert outcome.num_turns == 5
    assert outcome.usage.input_tokens > 0
    assert outcome.usage.output_tokens > 0
    assert outcome.usage.cost_usd > 0
    assert (repo / "src/hello.txt").read_text() == "hello\n"
    assert (repo / "README.md").read_text() == "# test\nmore\n"
    assert run_git("log", "-1", "--format=%s") == "add greeting"
    assert run_git("status", "--porcelain") == ""
    status = [e for e in events if isinstance(e, ToolResult)][2]
    assert "src/" in status.output


def test_usage_is_deterministic_and_resume_keeps_the_session(
    tmp_path: Path, repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    script = script_file({"default": {"start": [{"say": "ok"}], "human": [{"say": "ok"}]}})
    first = turn(repo, agent_env, script)
    again = turn(repo, agent_env, script, kind="human", session_id="sess-42")
    assert first.usage == turn(repo, agent_env, script).usage
    assert again.session_id == "sess-42"
    assert again.ok


def test_nth_turn_plays_nth_entry_and_the_last_repeats(
    repo: Path, agent_env: dict[str, str], run_git: RunGit, script_file: Script
) -> None:
    script = script_file(
        {
            "tasks": {
                "T1": {
                    "human": [
                        {"say": "one", "actions": [{"write": "a.txt", "content": "1"}]},
                        {"say": "two", "actions": [
                            {"write": "a.txt", "content": "2"}, {"commit": "two"}]},
                    ]
                }
            }
        }
    )  # fmt: skip
    replies = [turn(repo, agent_env, script, kind="human").reply for _ in range(3)]
    assert replies == ["one", "two", "two"]  # the third re-run finds nothing to commit: fine
    assert run_git("log", "-1", "--format=%s") == "two"
    start = turn(repo, agent_env, script)  # no start entry at all
    assert start.ok
    assert start.reply == UNSCRIPTED


def test_conflict_is_resolved_by_merge_writes_and_commit(
    repo: Path, agent_env: dict[str, str], run_git: RunGit, script_file: Script
) -> None:
    run_git("checkout", "-q", "-b", "feature")
    (repo / "f.txt").write_text("feature\n")
    run_git("add", "f.txt")
    run_git("commit", "-q", "-m", "feature side")
    run_git("checkout", "-q", "main")
    (repo / "f.txt").write_text("main\n")
    run_git("add", "f.txt")
    run_git("commit", "-q", "-m", "main side")
    run_git("checkout", "-q", "feature")
    script = script_file(
        {
            "default": {
                "conflict": [
                    {
                        "say": "Resolved.",
                        "actions": [
                            {"merge": True},
                            {"write": "f.txt", "content": "both\n"},
                            {"commit": "Merge main into feature"},
                        ],
                    }
                ]
            }
        }
    )
    events: list[AgentEvent] = []
    outcome = turn(repo, agent_env, script, kind="conflict", onto="main", events=events)
    assert outcome.ok, outcome
    merge_result = next(e for e in events if isinstance(e, ToolResult))
    assert merge_result.is_error  # the merge itself stopped on the conflict
    assert "CONFLICT" in merge_result.output
    assert (repo / "f.txt").read_text() == "both\n"
    parents = run_git("log", "-1", "--format=%P").split()
    assert len(parents) == 2
    assert run_git("status", "--porcelain") == ""


def test_paths_outside_the_worktree_are_refused(
    tmp_path: Path, repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    script = script_file(
        {"default": {"start": [{"say": "tried", "actions": [
            {"write": "../escape.txt", "content": "x"},
            {"write": ".git/hooks/pre-commit", "content": "x"},
        ]}]}}
    )  # fmt: skip
    events: list[AgentEvent] = []
    outcome = turn(repo, agent_env, script, events=events)
    assert outcome.ok
    assert not (tmp_path / "escape.txt").exists()
    assert not (repo / ".git/hooks/pre-commit").exists()
    results = [e for e in events if isinstance(e, ToolResult)]
    assert [r.is_error for r in results] == [True, True]


@pytest.mark.parametrize("failure", STREAM_FAILURES)
def test_fail_action_reports_its_failure_class(
    failure: str, repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    script = script_file(
        {"default": {"start": [{"actions": [
            {"fail": failure, "message": "scripted", "reset_at": 1767312000}]}]}}
    )  # fmt: skip
    outcome = turn(repo, agent_env, script)
    assert not outcome.ok
    assert outcome.failure == failure
    assert outcome.exit_code == 1
    if failure in ("rate_limit", "usage_limit", "overloaded"):
        assert outcome.reset_at == 1767312000.0


def test_max_turns_is_enforced(repo: Path, agent_env: dict[str, str], script_file: Script) -> None:
    actions = [{"run": ["true"]} for _ in range(5)]
    script = script_file({"default": {"start": [{"actions": actions}]}})
    outcome = turn(repo, agent_env, script, max_turns=2)
    assert outcome.failure == "max_turns"


@pytest.mark.parametrize(("code", "failure"), [(3, "crash"), (0, "failed")])
def test_exit_without_result(
    code: int, failure: str, repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    script = script_file(
        {"default": {"start": [{"actions": [{"run": ["true"]}, {"crash": code}]}]}}
    )
    outcome = turn(repo, agent_env, script)
    assert not outcome.ok
    assert outcome.failure == failure
    assert outcome.exit_code == code
    assert outcome.session_id == session_id_for("T1")  # known from the init event
    assert outcome.usage.input_tokens > 0  # summed from the messages seen


def test_a_broken_script_fails_the_turn_with_a_message(
    repo: Path, agent_env: dict[str, str], script_file: Script
) -> None:
    script = script_file({"default": {}})
    backend = ScriptBackend(script=script)
    Path(script).write_text("{not json")
    spec = TurnSpec(prompt="p", workdir=str(repo), task_id="T1")
    outcome = asyncio.run(run_turn(backend, spec, base_env=agent_env))
    assert outcome.failure == "failed"
    assert "not valid JSON" in outcome.error
