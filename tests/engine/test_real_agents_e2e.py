"""`plait run PLAN --agent X` with each real agent CLI against the model-API double,
end to end: worktrees, local-forge PRs, real CI, a CI failure the agent fixes, merges.

How this works: one three-task plan (1 and 2 independent, 3 after 1) runs through the
real `plait` command in a subprocess, against a real temp git repository, with the CLI's
backend options passed as `--model`/`--agent-opt` and its environment aimed at a
`ModelAPIDouble` (`cli_options`). The double gives each task its own script, routed by the
task's title (which plait's prompts render), so the agents can run concurrently. Every
task's turns are shell commands that write files and `git commit`; task 2's first commit
fails CI and its CI turn (in the resumed session) fixes it. The same commands, played by
the `script` simulator, make the baseline: each backend must land the same tree on `main`
with the same turns and CI failures per task, and report sessions and usage.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from plait.agents.base import TurnSpec
from plait.agents.registry import BACKENDS
from plait.core.model import Usage
from plait.testing.model_api import ModelAPIDouble, shell_turn
from plait.testing.model_api_clis import (
    CLIS,
    Option,
    cli_options,
    plait_run_args,
)
from plait.testing.model_api_script import Conversation, ScriptState, TextStep, ToolStep

CI = "python3 -m unittest discover -s tests -q"
TURN_USAGE = Usage(input_tokens=120, output_tokens=30)
# Backends with the usage of a run in USD when the CLI prices the model itself.
REPORTS_COST = frozenset({"claude"})


def _py(path: str, *lines: str) -> str:
    """A shell command writing `lines` to `path` (printf interprets the \\n)."""
    body = "\\n".join(lines) + "\\n"
    return f"printf '{body}' > {path}"


def _test(module: str, value: int) -> str:
    return _py(
        f"tests/test_{module}.py",
        "import unittest",
        f"import {module}",
        "",
        "",
        f"class {module.title()}Test(unittest.TestCase):",
        "    def test_value(self):",
        f"        self.assertEqual({module}.VALUE, {value})",
    )


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    title: str
    deps: tuple[str, ...]
    turns: tuple[tuple[str, tuple[str, ...]], ...]  # (turn kind, shell commands) in order


TASKS = (
    Task(
        "1",
        "Add the alpha module",
        (),
        (
            (
                "start",
                (
                    f"{_py('alpha.py', 'VALUE = 1')} && {_test('alpha', 1)}",
                    "git add alpha.py tests/test_alpha.py && git commit -qm 'Add alpha'",
                ),
            ),
        ),
    ),
    Task(
        "2",
        "Add the beta module",
        (),
        (
            # The first attempt is wrong: CI fails, and the CI turn fixes it.
            (
                "start",
                (
                    f"{_py('beta.py', 'VALUE = 0')} && {_test('beta', 2)} && "
                    "git add beta.py tests/test_beta.py && git commit -qm 'Add beta'",
                ),
            ),
            ("ci", (f"{_py('beta.py', 'VALUE = 2')} && git commit -qam 'Fix beta'",)),
        ),
    ),
    Task(
        "3",
        "Add the gamma module",
        ("1",),
        (
            (
                "start",
                (
                    f"{_py('gamma.py', 'import alpha', '', 'VALUE = alpha.VALUE + 2')} && "
                    f"{_test('gamma', 3)} && "
                    "git add gamma.py tests/test_gamma.py && git commit -qm 'Add gamma'",
                ),
            ),
        ),
    ),
)

# What lands on main: the files each task wrote (each added once, by its own PR).
LANDED = {
    "alpha.py": "1",
    "tests/test_alpha.py": "1",
    "beta.py": "2",
    "tests/test_beta.py": "2",
    "gamma.py": "3",
    "tests/test_gamma.py": "3",
}


def plan_text() -> str:
    # No task title appears outside its own patch: titles route each prompt to its script.
    patches = "\n".join(
        f"### Patch {t.id} [INFRA]: {t.title}\n\nWrite the module and its unittest test.\n"
        for t in TASKS
    )
    graph = "\n".join(f"- Patch {t.id} [INFRA] -> [{', '.join(t.deps)}]" for t in TASKS)
    return (
        "# Gameplan: real agents end to end\n\n## Problem Statement\n\n"
        "The package needs three small modules, each with a test.\n\n"
        f"## Patches\n\n{patches}\n## Dependency Graph\n\n{graph}\n"
    )


def make_double() -> ModelAPIDouble:
    api = ModelAPIDouble()
    for t in TASKS:
        for kind, cmds in t.turns:
            api.add_route(t.title, shell_turn(*cmds, text=f"{kind} turn done.", usage=TURN_USAGE))
    return api


def agent_script() -> dict[str, object]:
    """The same turns for the `script` simulator: the same shell commands, run by sh."""
    tasks: dict[str, dict[str, list[object]]] = {}
    for t in TASKS:
        kinds = tasks.setdefault(t.id, {})
        for kind, cmds in t.turns:
            actions = [{"run": ["sh", "-c", c]} for c in cmds]
            kinds.setdefault(kind, []).append({"say": f"{kind} turn done.", "actions": actions})
    return {"tasks": tasks}


# ---- environment and git -----------------------------------------------------------------
def scrubbed_env(home: Path) -> dict[str, str]:
    """This process's environment without GIT_*/PLAIT_* and with an empty HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), LANG="C.UTF-8")
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def git(repo: Path, *args: str, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        ["git", *args], cwd=repo, env=dict(env), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


def make_repo(path: Path, env: Mapping[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main", env=env)
    git(path, "config", "user.name", "Plait Test", env=env)
    git(path, "config", "user.email", "test@plait.invalid", env=env)
    git(path, "config", "commit.gpgsign", "false", env=env)
    (path / "README.md").write_text("# e2e\n")
    (path / "tests").mkdir()
    # A suite with one test from the start: unittest fails when it finds none.
    (path / "tests" / "test_base.py").write_text(
        "import unittest\n\n\nclass BaseTest(unittest.TestCase):\n"
        "    def test_true(self):\n        self.assertTrue(True)\n"
    )
    (path / ".gitignore").write_text("__pycache__/\n")
    git(path, "add", "-A", env=env)
    git(path, "commit", "-q", "-m", "initial", env=env)
    return path


# ---- one run -------------------------------------------------------------------------------
@dataclass
class RunResult:
    code: int
    summary: dict[str, Any]  # the JSON summary line
    tasks: dict[str, dict[str, Any]]  # its task rows by id
    sessions: dict[str, list[str]]  # per task: the session id each turn ran in
    turn_kinds: dict[str, list[str]]  # per task: the kinds of the agent turns started
    ci_failed: dict[str, int]  # per task: how often CI failed (the summary's counter
    # restarts at landing, so it is counted from the event lines)
    tree: dict[str, str]  # path → blob sha on main
    added: list[str]  # files added by main's commits, with repeats
    pr_trailers: list[str]
    output: str


def plait(
    args: list[str], env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plait.cli", *args],
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_plan(tmp: Path, agent_args: list[str], env: dict[str, str], project: str) -> RunResult:
    repo = make_repo(tmp / "repo", env)
    plan = tmp / "plan.md"
    plan.write_text(plan_text())
    env = {**env, "PLAIT_HOME": str(tmp / "plait-home")}
    argv = ["run", str(plan), "--repo", str(repo), "--project", project, "--ci", CI]
    argv += ["--max-concurrency", "3", "--json", *agent_args]
    done = plait(argv, env, timeout=170)
    output = done.stdout[-3000:] + done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, output
    summary = lines[-1]
    assert summary.get("type") == "summary", output
    tasks = {str(t["id"]): t for t in summary["tasks"]}
    events = [e for e in lines if e.get("type") == "event" and e.get("task")]
    story = "\n".join(f"[{e['task']}] {e['message']}" for e in events)
    return RunResult(
        code=done.returncode,
        summary=summary,
        tasks=tasks,
        sessions={t.id: turn_sessions(t.id, project, env) for t in TASKS},
        turn_kinds={
            t.id: [
                str(e["message"]).split(" starts a ")[1].split()[0]
                for e in events
                if e["task"] == t.id and " starts a " in str(e["message"])
            ]
            for t in TASKS
        },
        ci_failed={
            t.id: sum(
                1 for e in events if e["task"] == t.id and "CI failed on" in str(e["message"])
            )
            for t in TASKS
        },
        tree=main_tree(repo, env),
        added=git(
            repo, "log", "main", "--diff-filter=A", "--name-only", "--format=", env=env
        ).split(),
        pr_trailers=[
            line.split(":", 1)[1].strip()
            for line in git(repo, "log", "main", "--format=%B", env=env).splitlines()
            if line.startswith("Plait-PR:")
        ],
        output=f"{story}\n{output}",
    )


def turn_sessions(task: str, project: str, env: Mapping[str, str]) -> list[str]:
    """The session id each of the task's agent turns ended with (from its transcript)."""
    done = plait(["logs", task, "--project", project, "--json"], env, timeout=60)
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return [str(e["event"].get("session_id", "")) for e in entries if e["kind"] == "FinalResult"]


def main_tree(repo: Path, env: Mapping[str, str]) -> dict[str, str]:
    tree = {}
    for line in git(repo, "ls-tree", "-r", "main", env=env).splitlines():
        meta, path = line.split("\t", 1)
        tree[path] = meta.split()[2]
    return tree


def check_landed(run: RunResult, label: str) -> None:
    """Every task merged through its own PR; each file it wrote is on main once."""
    assert run.code == 0, f"{label}: exit {run.code}\n{run.output}"
    assert run.summary["outcome"] == "merged", run.output
    assert run.summary["merged"] == len(TASKS)
    for t in TASKS:
        row = run.tasks[t.id]
        assert row["status"] == "merged", (label, row)
        assert row["merge_sha"], (label, row)
    prs = [run.tasks[t.id]["pr"] for t in TASKS]
    assert len(set(prs)) == len(TASKS), prs
    assert sorted(run.pr_trailers) == sorted(str(p) for p in prs), run.pr_trailers
    for path in LANDED:
        assert run.added.count(path) == 1, (label, path, run.added)
    assert set(run.tree) == {"README.md", ".gitignore", "tests/test_base.py", *LANDED}


def first_use(cli: str, options: Mapping[str, Option], env: Mapping[str, str], cwd: Path) -> None:
    """Set the CLI up the way any earlier use on a machine would have.

    opencode creates and migrates its SQLite database on first start; two first starts at
    once race on the migration and one exits 1 ("Failed query: CREATE TABLE `workspace`").
    plait retries that turn and the run still lands, but with an extra turn, so the data
    dir is initialized first (`opencode session list` runs the migrations).
    """
    if cli != "opencode":
        return
    spec = TurnSpec(prompt="", workdir=str(cwd))
    cli_env = BACKENDS[cli](**options).env(env, spec)
    done = subprocess.run(
        [str(options["executable"]), "session", "list"],
        cwd=cwd,
        env=cli_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# ---- the runs ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The plan run by the `script` simulator playing the same shell commands."""
    tmp = tmp_path_factory.mktemp("script")
    script = tmp / "agent-script.json"
    script.write_text(json.dumps(agent_script()))
    env = scrubbed_env(tmp / "home")
    run = run_plan(tmp, ["--agent", "script", "--script", str(script)], env, "e2e-script")
    check_landed(run, "script")
    return run


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("cli", CLIS)
def test_real_agent_runs_plan_like_script(
    cli: str, clis_bin: Path, baseline: RunResult, tmp_path: Path
) -> None:
    with make_double() as api:
        options, env = cli_options(
            api, cli, clis_bin, home=tmp_path / f"{cli}-home", base_env=scrubbed_env(tmp_path)
        )
        first_use(cli, options, env, tmp_path)
        run = run_plan(tmp_path, plait_run_args(cli, options), env, f"e2e-{cli}")
        check_landed(run, cli)
        # The same tree on main, file for file, as the simulator's run.
        assert run.tree == baseline.tree, (run.tree, baseline.tree)
        for t in TASKS:
            row, expected = run.tasks[t.id], baseline.tasks[t.id]
            assert row["turns"] == expected["turns"] == len(t.turns), f"{cli}: {row}\n{run.output}"
            kinds = [kind for kind, _ in t.turns]
            assert run.turn_kinds[t.id] == baseline.turn_kinds[t.id] == kinds, run.output
            assert run.ci_failed[t.id] == baseline.ci_failed[t.id], (cli, run.ci_failed)
            # Every model response reported TURN_USAGE; each turn made several.
            assert int(row["output_tokens"]) >= TURN_USAGE.output_tokens * 2 * len(t.turns)
            assert int(row["tokens"]) > 0
            if cli in REPORTS_COST:
                assert float(row["cost_usd"]) > 0, (cli, row)
            # One session per task; a later turn (CI fix) resumed it.
            sessions = run.sessions[t.id]
            assert len(sessions) == len(t.turns), (cli, t.id, sessions)
            assert sessions[0], (cli, t.id, sessions)
            assert set(sessions) == {sessions[0]}, (cli, t.id, sessions)
            assert api.route_turns_started(t.title) == len(t.turns), (cli, t.title)
        assert run.ci_failed == {"1": 0, "2": 1, "3": 0}
        assert run.summary["turns"] == sum(len(t.turns) for t in TASKS)
        assert api.exhausted == 0
        every = [s for t in TASKS for s in run.sessions[t.id][:1]]
        assert len(set(every)) == len(TASKS), every  # no two tasks shared a session


# ---- routing, without CLIs -----------------------------------------------------------------
def _conv(text: str, *, results: int = 0, users: int = 1, history: str = "") -> Conversation:
    return Conversation(
        has_tools=True,
        tool_names=frozenset({"Bash"}),
        user_messages=users,
        last_user_text=text,
        results_since_user=results,
        user_text=f"{history}\n{text}",
    )


def test_routes_give_each_marker_its_own_script_in_order() -> None:
    a1, a2 = shell_turn("echo a1"), shell_turn("echo a2", text="a2 done")
    b1 = shell_turn("echo b1")
    state = ScriptState([], routes={"Add a": [a1, a2], "Add a b": [b1]})
    # The longer marker wins: "Add a b" is not task "Add a".
    first = state.step_for(_conv("# Task: Add a b"))
    assert isinstance(first, ToolStep)
    assert first.call.command == "echo b1"
    assert first.route == "Add a b"
    step = state.step_for(_conv("# Task: Add a"))
    assert isinstance(step, ToolStep)
    assert step.call.command == "echo a1"
    # A retry of the same prompt replays its turn; a tool result moves it on.
    assert state.step_for(_conv("# Task: Add a")) == step
    done = state.step_for(_conv("# Task: Add a", results=1))
    assert isinstance(done, TextStep)
    assert done.route == "Add a"
    # A later prompt that names no marker itself (a CI turn in the resumed session) is
    # routed by the conversation's earlier messages.
    later = state.step_for(_conv("CI failed", users=2, history="# Task: Add a"))
    assert isinstance(later, ToolStep)
    assert later.call.command == "echo a2"
    assert state.started == {"Add a b": 1, "Add a": 2}
    assert state.exhausted == 0
