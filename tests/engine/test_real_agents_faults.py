"""Provider faults through the real engine, per real agent CLI: a rate limit cools the
backend down and the task completes later; a stalled stream is caught and recovered.

How this works: a one-task plan runs through the real `plait run … --json` in a
subprocess (temp git repository, local forge, a real `--ci`), with the CLI aimed at a
`ModelAPIDouble` whose script for the task (routed by its title) writes a module and its
test and commits. Faulted requests never consume a scripted turn, so whichever later turn
reaches the model (a retry, a nudge, a fresh session) plays the same commands.

- Rate limit: every model request with tools is answered 429 until plait says the backend
  cools down (the test reads plait's JSON lines as they come and clears the faults then),
  however many tries the CLI makes itself before giving up on the turn.
- Stall: the task's first model request gets a 200 stream that falls silent; plait's
  `--idle-timeout` stops the agent and sends one nudge turn in the same session.

What each CLI does differently is spelled out in `LIMIT_PATH` and `STALL_PATH`; the
helpers (environment, repository, `plait` runner, opencode's first use) come from the
`test_real_agents_e2e` suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from plait.core.model import Usage
from plait.testing.model_api import Fault, ModelAPIDouble, shell_turn
from plait.testing.model_api_clis import (
    CLIS,
    Option,
    cli_options,
    plait_run_args,
)

from .test_real_agents_e2e import _py, _test, first_use, git, make_repo, plait, scrubbed_env

CI = "python3 -m unittest discover -s tests -q"
TASK = "1"
TITLE = "Add the alpha module"
COMMANDS = (
    f"{_py('alpha.py', 'VALUE = 1')} && {_test('alpha', 1)}",
    "git add alpha.py tests/test_alpha.py && git commit -qm 'Add alpha'",
)
LANDED = {"README.md", ".gitignore", "tests/test_base.py", "alpha.py", "tests/test_alpha.py"}
COOLING = "the backend cools down"
NUDGING = "nudging it once"

# How a rate-limited first turn ends, per CLI. "same": the retry after the cool-down
# resumes the session the limited turn began, and finishes the task. "fresh": gemini
# reports a session id before its first request but saves the session only once a model
# answer arrived, so the resume finds nothing ("session" failure, the one failure counted)
# and a fresh session finishes the task.
# opencode, even with its provider's maxRetries at 0, retries a 429 in its own loop (six
# tries in 1.18, honouring retry-after) before it reports the limit; the faults stay queued
# until it gives up, so plait sees the limit and cools down as for the others.
LIMIT_PATH = {"claude": "same", "codex": "same", "opencode": "same", "pi": "same"}
LIMIT_PATH["gemini"] = "fresh"

# How a stalled first turn is recovered, per CLI. Every CLI printed its session id before
# the stall (opencode too: its step starts when the answer's first event arrives), so plait
# nudges it once in that session. "nudge": the nudge resumes it and finishes the task.
# "nudge-fresh": pi saves a session only once an answer arrived, so the nudge's resume
# fails ("session", the one failure counted) and a fresh session finishes the task.
STALL_PATH = {"claude": "nudge", "codex": "nudge", "gemini": "nudge", "opencode": "nudge"}
STALL_PATH["pi"] = "nudge-fresh"
# The watchdog counts silence from a turn's start, so a healthy turn (the stalled one
# before its stall, the nudge, pi's fresh session) must print within the idle timeout on
# a loaded machine too: the suite runs on two workers on two cores, often beside other
# work, and a CLI's start-up there takes several times what it takes on an idle machine.
# opencode prints nothing from start-up until the model's answer begins (about 5 s on an
# idle machine); gemini's start-up before its first request took over 6 s in full-suite
# runs beside other work. At 6 s (20 s for those two) the watchdog fired before the stall
# began now and then; the test waits one idle timeout, so these cost little.
IDLE_TIMEOUT = dict.fromkeys(CLIS, 15.0) | {"opencode": 30.0, "gemini": 30.0}


# ---- the run ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AgentTurn:
    """One agent turn of the task, from its transcript."""

    prompt: str  # the prompt's first line
    sessions: tuple[str, ...]  # the ids of its SessionStarted events
    ok: bool  # it ended with a successful FinalResult


@dataclass
class FaultRun:
    code: int
    summary: dict[str, Any]
    row: dict[str, Any]  # the task's summary row
    lines: list[dict[str, Any]]  # the task's event lines, in order
    turns: list[AgentTurn]
    tree: set[str]
    output: str

    def messages(self, text: str) -> list[str]:
        return [str(e["message"]) for e in self.lines if text in str(e["message"])]

    def story(self) -> str:
        """What happened to the task, with seconds since its first line (shown by -rP)."""
        start = self.lines[0]["at"] if self.lines else 0.0
        story = [f"{e['at'] - start:6.2f}s {e['message']}" for e in self.lines]
        turns = [
            f"turn {n}: {t.prompt!r} sessions={list(t.sessions)} ok={t.ok}"
            for n, t in enumerate(self.turns)
        ]
        return "\n".join([*story, *turns])

    def explain(self) -> str:
        story = "\n".join(f"{e['at']:.2f} {e['message']}" for e in self.lines)
        turns = "\n".join(str(t) for t in self.turns)
        return f"{story}\n{turns}\n{self.output}"


@dataclass
class LineReader:
    """Collects plait's stdout lines as they come and tells `on_event` about each event."""

    on_event: Callable[[dict[str, Any]], None]
    lines: list[str] = field(default_factory=list)

    def read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line)
            if line.startswith("{"):
                obj = json.loads(line)
                if obj.get("type") == "event":
                    self.on_event(obj)


def plan_text() -> str:
    return (
        "# Gameplan: provider faults\n\n## Problem Statement\n\n"
        "The package needs one small module with a test.\n\n## Patches\n\n"
        f"### Patch {TASK} [INFRA]: {TITLE}\n\nWrite the module and its unittest test.\n\n"
        f"## Dependency Graph\n\n- Patch {TASK} [INFRA] -> []\n"
    )


def run_plan(
    tmp: Path,
    cli: str,
    options: Mapping[str, Option],
    env: Mapping[str, str],
    extra: list[str],
    on_event: Callable[[dict[str, Any]], None] = lambda _: None,
    repo: Path | None = None,
) -> FaultRun:
    """`repo`: the repository to run in (a fresh `make_repo` without)."""
    repo = repo or make_repo(tmp / "repo", env)
    plan = tmp / "plan.md"
    plan.write_text(plan_text())
    env = {**env, "PLAIT_HOME": str(tmp / "plait-home")}
    project = f"faults-{cli}"
    argv = [sys.executable, "-m", "plait.cli", "run", str(plan), "--repo", str(repo)]
    argv += ["--project", project, "--ci", CI, "--json", *plait_run_args(cli, options), *extra]
    errors = tmp / "plait.stderr"
    reader = LineReader(on_event)
    with (
        errors.open("w") as err,
        subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True
        ) as proc,
    ):
        thread = threading.Thread(target=reader.read, args=(proc.stdout,), daemon=True)
        thread.start()
        try:
            proc.wait(timeout=150)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        thread.join(timeout=10)
    output = "".join(reader.lines)[-3000:] + errors.read_text()[-3000:]
    objs = [json.loads(line) for line in reader.lines if line.startswith("{")]
    assert objs, output
    assert objs[-1].get("type") == "summary", output
    summary = objs[-1]
    return FaultRun(
        code=proc.returncode,
        summary=summary,
        row=next(t for t in summary["tasks"] if str(t["id"]) == TASK),
        lines=[o for o in objs if o.get("type") == "event" and o.get("task") == TASK],
        turns=agent_turns(project, env),
        tree=set(git(repo, "ls-tree", "-r", "--name-only", "main", env=env).split()),
        output=output,
    )


def agent_turns(project: str, env: Mapping[str, str]) -> list[AgentTurn]:
    done = plait(["logs", TASK, "--project", project, "--json"], env, timeout=60)
    assert done.returncode == 0, done.stderr
    by_effect: dict[str, list[dict[str, Any]]] = {}
    for line in done.stdout.splitlines():
        if line.strip():
            entry = json.loads(line)
            by_effect.setdefault(str(entry["effect"]), []).append(entry)
    turns = []
    for entries in by_effect.values():
        prompt = next((e["event"]["text"] for e in entries if e["kind"] == "Prompt"), "")
        turns.append(
            AgentTurn(
                prompt=str(prompt).strip().splitlines()[0] if prompt else "",
                sessions=tuple(
                    str(e["event"]["session_id"]) for e in entries if e["kind"] == "SessionStarted"
                ),
                ok=any(e["kind"] == "FinalResult" and e["event"].get("ok") for e in entries),
            )
        )
    return turns


def check_merged(run: FaultRun, cli: str) -> None:
    print(f"{cli}:\n{run.story()}")
    assert run.code == 0, f"{cli}: exit {run.code}\n{run.explain()}"
    assert run.summary["outcome"] == "merged", run.explain()
    assert run.row["status"] == "merged", run.row
    assert run.row["merge_sha"], run.row
    assert run.tree == LANDED, run.tree
    assert not run.messages("NEEDS ATTENTION"), run.explain()
    # The turn that finished the task ran the script's commands and said so.
    assert run.turns, run.explain()
    assert run.turns[-1].ok, run.explain()


def sessions_of(turns: list[AgentTurn]) -> list[str]:
    return [s for t in turns for s in t.sessions]


def make_double() -> ModelAPIDouble:
    api = ModelAPIDouble()
    usage = Usage(input_tokens=100, output_tokens=20)
    api.add_route(TITLE, shell_turn(*COMMANDS, text="Added alpha.", usage=usage))
    return api


def setup_cli(
    api: ModelAPIDouble, cli: str, bin_dir: Path, tmp: Path
) -> tuple[dict[str, Option], dict[str, str]]:
    options, env = cli_options(
        api, cli, bin_dir, home=tmp / f"{cli}-home", base_env=scrubbed_env(tmp / "home")
    )
    first_use(cli, options, env, tmp)
    return options, env


# ---- rate limit ----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("cli", CLIS)
def test_rate_limit_cools_the_backend_down_and_the_task_completes(
    cli: str, clis_bin: Path, tmp_path: Path
) -> None:
    with make_double() as api:
        options, env = setup_cli(api, cli, clis_bin, tmp_path)
        # More 429s than any CLI tries by itself; the rest go when plait cools down.
        api.inject(*[Fault(kind="rate_limit", reset_in=1)] * 20)

        def clear_when_cooling(event: dict[str, Any]) -> None:
            if COOLING in str(event["message"]):
                api.clear_faults()

        run = run_plan(tmp_path, cli, options, env, ["--cooldown", "1"], clear_when_cooling)
        check_merged(run, cli)
        limited = [r for r in api.requests if r.fault == "rate_limit"]
        assert limited, api.requests
        cooled = run.messages(COOLING)
        assert cooled, run.explain()
        assert "rate limit" in cooled[0], cooled
        # The limited turn came first; nothing it did was lost and nothing was replayed.
        assert run.turns[0].prompt == f"# Task: {TITLE}", run.explain()
        assert not run.turns[0].ok, run.explain()
        assert api.route_turns_started(TITLE) == 1
        assert api.exhausted == 0
        failed = run.messages("turn failed")
        sessions = sessions_of(run.turns)
        if LIMIT_PATH[cli] == "same":
            # No failure counted: only the cool-down(s), then the task resumed its session.
            assert not failed, run.explain()
            assert len(run.turns) == len(cooled) + 1 == run.row["turns"], run.explain()
            assert sessions, run.explain()
            assert set(sessions) == {sessions[0]}, (cli, sessions)
        else:
            # The session the limited turn named was never saved: its resume fails once.
            assert len(failed) == 1, run.explain()
            assert "(session)" in failed[0], failed
            assert len(run.turns) == len(cooled) + 2 == run.row["turns"], run.explain()
            assert run.turns[0].sessions, run.explain()
            assert run.turns[-1].sessions[0] not in run.turns[0].sessions, run.explain()


# ---- stall ---------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("cli", CLIS)
def test_stalled_stream_is_detected_and_the_task_completes(
    cli: str, clis_bin: Path, tmp_path: Path
) -> None:
    with make_double() as api:
        options, env = setup_cli(api, cli, clis_bin, tmp_path)
        # Silent far longer than the idle timeout: only plait's watchdog ends the turn.
        api.inject(Fault(kind="stall", stall_seconds=120))
        idle = ["--idle-timeout", f"{IDLE_TIMEOUT[cli]:g}", "--cooldown", "1"]
        run = run_plan(tmp_path, cli, options, env, idle)
        check_merged(run, cli)
        assert [r.fault for r in api.requests if r.fault] == ["stall"]
        assert api.route_turns_started(TITLE) == 1
        assert api.exhausted == 0
        first = run.turns[0]
        assert first.prompt == f"# Task: {TITLE}", run.explain()
        assert not first.ok, run.explain()
        assert first.sessions, run.explain()  # what lets plait nudge it in its session
        nudged = run.messages(NUDGING)
        failed = run.messages("turn failed")
        assert len(nudged) == 1, run.explain()
        assert "went silent" in nudged[0], nudged
        assert f"no output for {IDLE_TIMEOUT[cli]:g}s" in nudged[0], nudged
        nudge = run.turns[1]
        assert nudge.prompt == f"# Keep going: {TITLE}", run.explain()
        if STALL_PATH[cli] == "nudge":
            # The nudge resumed the stalled turn's session and finished the task.
            assert not failed, run.explain()
            assert len(run.turns) == 2 == run.row["turns"], run.explain()
            assert nudge.ok, run.explain()
            assert nudge.sessions, run.explain()
            assert set(sessions_of(run.turns)) == {first.sessions[0]}, run.explain()
        else:
            # The stalled session was never saved: the nudge's resume fails, a fresh
            # session (told it is one) finishes the task.
            assert len(failed) == 1, run.explain()
            assert "(session)" in failed[0], failed
            assert len(run.turns) == 3 == run.row["turns"], run.explain()
            assert not nudge.ok, run.explain()
            assert run.turns[2].sessions[0] != first.sessions[0], run.explain()
