"""The `script` backend: a simulated coding agent for demos and fast tests.

It runs the simulator in `plait.agents.scripted` as a real subprocess, which follows a JSON
script and speaks Claude Code's stream-json, so the same decoder, runner and failure
handling are exercised as with the real CLI. Script format:

    {"tasks":   {"<task id>": {"<turn kind>": [TURN, ...]}},
     "default": {"<turn kind>": [TURN, ...]}}

TURN is `{"say": "final text", "actions": [ACTION, ...]}`; the n-th turn of a kind for a
task plays the n-th entry (the last one repeats). ACTION is one of `write`, `append`, `run`,
`merge`, `commit`, `sleep`, `fail`, `crash`, `hang` (see `ACTION_HELP`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from plait.agents.base import TurnSpec
from plait.agents.claude import ClaudeStreamDecoder
from plait.agents.cli_backend import Backend
from plait.agents.events import FAILURE_CLASSES
from plait.agents.options import PATH, option
from plait.agents.prompts import TURN_KINDS
from plait.errors import AgentError

# A script plays the turns an agent plays (see plait.agents.prompts), "verdict": a
# reviewer's turn, whose "say" is its answer (e.g. "VERDICT: NEEDS_CHANGES\n1. add a test"),
# and "plan": a turn of `plait plan`'s planner (task "plan").
SCRIPT_KINDS = (*TURN_KINDS, "verdict", "plan")

# Failures a script can make the simulated agent report: those a CLI's own stream carries.
# (crash, stalled and timeout are produced by the `crash` and `hang` actions instead.)
STREAM_FAILURES = tuple(f for f in FAILURE_CLASSES if f not in ("crash", "stalled", "timeout"))

ACTION_HELP = (
    '{"write": PATH, "content": TEXT}, {"append": PATH, "content": TEXT}, '
    '{"run": [ARGV...]}, {"merge": true}, {"commit": MESSAGE}, {"sleep": SECONDS}, '
    '{"fail": CLASS, "message": TEXT}, {"crash": EXIT_CODE}, {"hang": SECONDS}'
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    op: str  # write | append | run | merge | commit | sleep | fail | crash | hang
    path: str = ""
    content: str = ""
    argv: tuple[str, ...] = ()
    message: str = ""
    seconds: float = 0.0
    failure: str = ""
    code: int = 0
    reset_at: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScriptTurn:
    say: str = ""
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Script:
    tasks: Mapping[str, Mapping[str, tuple[ScriptTurn, ...]]]
    default: Mapping[str, tuple[ScriptTurn, ...]]

    def turns(self, task: str, kind: str) -> tuple[ScriptTurn, ...]:
        """The turns scripted for this task and kind, falling back to the default."""
        return self.tasks.get(task, {}).get(kind) or self.default.get(kind) or ()


EMPTY_SCRIPT = Script(tasks={}, default={})


def load_script(path: str | os.PathLike[str]) -> Script:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise AgentError(
            f"cannot read agent script {os.fspath(path)}: {exc.strerror or exc}",
            hint="pass the path of an existing JSON script file",
        ) from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise AgentError(
            f"{os.fspath(path)}: not valid JSON: {exc}", hint="fix the script's JSON syntax"
        ) from exc
    return parse_script(data, source=os.fspath(path))


def parse_script(data: object, *, source: str = "script") -> Script:
    """Validate a decoded script; every problem is an AgentError naming where it is."""
    top = _mapping(data, source)
    unknown = sorted(set(top) - {"tasks", "default"})
    if unknown:
        raise _bad(source, f"unknown key {unknown[0]!r}", 'use only "tasks" and "default"')
    tasks = {
        str(task): _kinds(kinds, f"{source}: tasks.{task}")
        for task, kinds in _mapping(top.get("tasks", {}), f"{source}: tasks").items()
    }
    default = _kinds(top.get("default", {}), f"{source}: default")
    return Script(tasks=tasks, default=default)


def _kinds(data: object, where: str) -> dict[str, tuple[ScriptTurn, ...]]:
    result: dict[str, tuple[ScriptTurn, ...]] = {}
    for kind, turns in _mapping(data, where).items():
        if kind not in SCRIPT_KINDS:
            raise _bad(
                where, f"unknown turn kind {kind!r}", f"use one of {', '.join(SCRIPT_KINDS)}"
            )
        if not isinstance(turns, list):
            raise _bad(f"{where}.{kind}", "expected a list of turns", '[{"say": "…"}]')
        result[kind] = tuple(_turn(t, f"{where}.{kind}[{i}]") for i, t in enumerate(turns))
    return result


def _turn(data: object, where: str) -> ScriptTurn:
    turn = _mapping(data, where)
    if extra := sorted(set(turn) - {"say", "actions"}):
        raise _bad(where, f"unknown key {extra[0]!r}", 'a turn has "say" and "actions"')
    say = turn.get("say", "")
    actions = turn.get("actions", [])
    if not isinstance(say, str):
        raise _bad(where, '"say" must be a string', '"say": "what the agent answers"')
    if not isinstance(actions, list):
        raise _bad(where, '"actions" must be a list', ACTION_HELP)
    return ScriptTurn(
        say=say, actions=tuple(_action(a, f"{where}.actions[{i}]") for i, a in enumerate(actions))
    )


def _action(data: object, where: str) -> Action:
    a = _mapping(data, where)
    if "write" in a or "append" in a:
        op = "write" if "write" in a else "append"
        return Action(op=op, path=_text(a, op, where), content=_text(a, "content", where))
    if "run" in a:
        argv = a["run"]
        if not (isinstance(argv, list) and argv and all(isinstance(x, str) for x in argv)):
            raise _bad(where, '"run" must be a non-empty list of strings', '["make", "test"]')
        return Action(op="run", argv=tuple(str(x) for x in argv))
    if "merge" in a:
        return Action(op="merge")
    if "commit" in a:
        return Action(op="commit", message=_text(a, "commit", where))
    if "sleep" in a or "hang" in a:
        op = "sleep" if "sleep" in a else "hang"
        return Action(op=op, seconds=_number(a, op, where))
    if "fail" in a:
        failure = _text(a, "fail", where)
        if failure not in STREAM_FAILURES:
            hint = f"one of {', '.join(STREAM_FAILURES)}"
            raise _bad(where, f"unknown failure {failure!r}", hint)
        reset = _number(a, "reset_at", where) if "reset_at" in a else None
        message = a.get("message", "")
        return Action(op="fail", failure=failure, message=str(message), reset_at=reset)
    if "crash" in a:
        return Action(op="crash", code=int(_number(a, "crash", where)))
    raise _bad(where, "unknown action", ACTION_HELP)


def _mapping(data: object, where: str) -> dict[str, object]:
    if not isinstance(data, dict):
        raise _bad(where, "expected a JSON object", "see the script format in plait.agents.script")
    return data


def _text(a: Mapping[str, object], key: str, where: str) -> str:
    value = a.get(key)
    if not isinstance(value, str):
        raise _bad(where, f'"{key}" must be a string', ACTION_HELP)
    return value


def _number(a: Mapping[str, object], key: str, where: str) -> float:
    value = a.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _bad(where, f'"{key}" must be a non-negative number', ACTION_HELP)
    return float(value)


def _bad(where: str, message: str, hint: str) -> AgentError:
    return AgentError(f"{where}: {message}", hint=hint)


def _package_root() -> str:
    """The directory holding the `plait` package, so the simulator imports this plait."""
    return str(Path(__file__).resolve().parent.parent.parent)


@dataclass(frozen=True, kw_only=True)
class ScriptBackend(Backend):
    """A SIMULATED agent following a JSON script (see the module docstring)."""

    name = "script"
    decoder_type = ClaudeStreamDecoder

    script: str | None = option(None, "the JSON script the simulated agent follows", PATH)
    python: str = option(sys.executable, "the Python that runs the simulated agent")

    def __post_init__(self) -> None:
        if self.script is not None:
            load_script(self.script)  # fail now, on the user's command, not mid-run

    def argv(self, spec: TurnSpec) -> list[str]:
        # -P: the worktree (cwd) must not shadow plait's own modules.
        argv = [self.python, "-P", "-m", "plait.agents.scripted"]
        if self.script is not None:
            argv += ["--script", self.script]
        argv += ["--task", spec.task_id, "--kind", spec.kind, "--max-turns", str(spec.max_turns)]
        if spec.onto:
            argv += ["--onto", spec.onto]
        if spec.session_id:
            argv += ["--resume", spec.session_id]
        return [*argv, "-p", spec.prompt]

    def extra_env(self, spec: TurnSpec, env: Mapping[str, str]) -> Mapping[str, str]:
        paths = [_package_root(), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
