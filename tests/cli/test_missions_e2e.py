"""Missions end to end: the real `plait` CLI, a background engine, the script agent.

One engine serves the whole module's project (starting engines is what costs here); each
test starts its own missions in it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from plait import processes
from plait.core import events as ev
from plait.store.sqlite import Store
from tests.api.helpers_live import Live, until
from tests.cli.helpers_cli import cli_env

pytestmark = pytest.mark.slow

PLAIT = f"{sys.executable} -m plait.cli"


def sh(command: str) -> dict[str, Any]:
    return {"run": ["sh", "-c", command]}


SCRIPT: dict[str, Any] = {
    "tasks": {
        # m1: answers. m2: fails with exit code 3.
        "m1": {"start": [{"say": "forty-two"}]},
        "m2": {"start": [{"say": "", "actions": [{"crash": 3}]}]},
        # m3: a lead that spawns two children and waits for them.
        "m3": {
            "start": [
                {
                    "say": "both children are done",
                    "actions": [
                        sh(
                            f'{PLAIT} mission "count the files" --parent "$PLAIT_TASK_ID" '
                            "--name counter > child1.txt"
                        ),
                        sh(
                            f'{PLAIT} mission "name the files" --parent "$PLAIT_TASK_ID" '
                            "--name namer > child2.txt"
                        ),
                        sh(f"{PLAIT} wait counter namer > waited.txt"),
                    ],
                }
            ]
        },
        "m4": {"start": [{"say": "counted 1"}]},
        "m5": {"start": [{"say": "README.md"}]},
        # m6: a lead whose children hang; it hangs too (for kill --cascade).
        "m6": {
            "start": [
                {
                    "actions": [
                        sh(f'{PLAIT} mission "hang a" --parent "$PLAIT_TASK_ID" --name hang-a'),
                        sh(f'{PLAIT} mission "hang b" --parent "$PLAIT_TASK_ID" --name hang-b'),
                        {"hang": 600},
                    ]
                }
            ]
        },
        "m7": {"start": [{"actions": [{"hang": 600}]}]},
        "m8": {"start": [{"actions": [sh("sleep 600 & sleep 600")]}]},
        "m9": {"start": [{"actions": [{"hang": 600}]}]},
        # m10: records its environment where the test finds it.
        "m10": {
            "start": [{"say": "ok", "actions": [sh('env | grep ^PLAIT_ | sort > "$HOME/env.txt"')]}]
        },
    }
}


def new_project(live: Live, name: str, script: Path, *more: str) -> None:
    live.ok("init", "--repo", str(live.repo), "--project", name, "--agent", "script",
            "--script", str(script), *more)  # fmt: skip


@contextmanager
def engine(live: Live, name: str) -> Iterator[None]:
    """The project's background engine, stopped after."""
    live.ok("up", name)
    try:
        yield
    finally:
        live.plait("down", name)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    live = Live.make(tmp_path_factory.mktemp("missions"), SCRIPT)
    new_project(live, "m", live.script, "--max-concurrency", "8")
    with engine(live, "m"):
        yield live


def mission(live: Live, *args: str) -> dict[str, Any]:
    out = live.ok("mission", *args, "-p", "m", "--json")
    return dict(json.loads(out))


def test_a_mission_prints_its_id_and_name_and_its_answer_is_the_result(live: Live) -> None:
    started = mission(live, "What is the answer?", "--name", "answer")
    assert started["id"] == "m1"
    assert started["name"] == "answer"
    waited = live.plait("wait", "answer", "-p", "m")
    assert waited.returncode == 0, waited.stderr
    result = live.json("result", "m1", "-p", "m")
    assert result["answer"] == "forty-two"
    assert result["exit_code"] == 0
    assert result["status"] == "done"


def test_wait_returns_the_agent_exit_code_of_a_failed_mission(live: Live) -> None:
    assert mission(live, "Fail, please")["id"] == "m2"
    waited = live.plait("wait", "m2", "-p", "m", timeout=120)
    assert waited.returncode == 3, (waited.stdout, waited.stderr)
    assert "m2: failed" in waited.stdout
    result = live.plait("result", "m2", "-p", "m")
    assert result.returncode == 3
    assert "restart policy never" in result.stdout


def test_a_lead_agent_spawns_children_waits_on_them_and_ps_draws_the_tree(live: Live) -> None:
    assert mission(live, "Lead: count and name the files", "--lead")["id"] == "m3"
    waited = live.plait("wait", "m3", "-p", "m", timeout=180)
    assert waited.returncode == 0, (waited.stdout, waited.stderr)
    rows = live.rows("m")
    assert rows["m4"]["parent"] == "m3"
    assert rows["m5"]["parent"] == "m3"
    assert rows["m4"]["name"] == "counter"
    assert {rows[t]["status"] for t in ("m3", "m4", "m5")} == {"done"}
    assert live.json("result", "counter", "-p", "m")["answer"] == "counted 1"
    tree = live.ok("ps", "--tree", "--all", "-p", "m")
    lines = [line.split()[0:2] for line in tree.splitlines()]
    at = lines.index(["m3", "done"])
    assert lines[at + 1] == ["├─", "m4"]
    assert lines[at + 2] == ["└─", "m5"]
    assert live.json("result", "m3", "-p", "m")["children"] == ["m4", "m5"]


def test_kill_cascade_leaves_no_process_of_the_subtree_alive(live: Live) -> None:
    assert mission(live, "Lead that hangs")["id"] == "m6"
    until(lambda: {"m7", "m8"} <= set(live.rows("m")), what="children spawned")
    assert mission(live, "A bystander that hangs too")["id"] == "m9"
    worktrees = live.home() / "m" / "worktrees"

    def alive(tid: str) -> list[Any]:
        return processes.under(str(worktrees / tid))

    until(lambda: all(alive(t) for t in ("m6", "m7", "m8", "m9")), what="agents running")
    out = live.ok("kill", "m6", "--cascade", "-p", "m")
    assert "2 mission(s) under it" in out
    until(lambda: not (alive("m6") or alive("m7") or alive("m8")), timeout=60, what="all dead")
    rows = live.rows("m")
    assert {rows[t]["status"] for t in ("m6", "m7", "m8")} == {"stopped"}
    assert rows["m7"]["stopped"] == "stopped with m6"
    waited = live.plait("wait", "m6", "-p", "m")
    assert waited.returncode == 11
    assert alive("m9")  # a mission outside the subtree goes on
    live.ok("kill", "m9", "-p", "m")


def test_every_agent_gets_its_identity_the_api_and_the_cli(live: Live) -> None:
    tid = mission(live, "Tell me your environment", "--port", "web", "--port", "db")["id"]
    assert tid == "m10"
    assert live.plait("wait", tid, "-p", "m").returncode == 0
    env_file = live.tmp / "env.txt"
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert env["PLAIT_TASK_ID"] == tid
    assert env["PLAIT_TASK_NAME"] == "tell-me-your-environment"
    assert env["PLAIT_PROJECT"] == "m"
    assert env["PLAIT_SOCKET"].endswith("api.sock")
    assert int(env["PLAIT_PORT_WEB"]) != int(env["PLAIT_PORT_DB"])


def test_a_mission_in_a_directory_of_its_own_leaves_no_branch(live: Live, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    tid = mission(live, "Look at my notes", "--cwd", str(folder))["id"]
    assert live.plait("wait", tid, "-p", "m").returncode == 0
    assert live.rows("m")[tid]["branch"] is None
    assert folder.is_dir()
    bad = live.plait("mission", "x", "--cwd", str(folder), "--landing", "pr", "-p", "m")
    assert bad.returncode == 2
    assert "cannot land" in bad.stderr


# ---- blueprints ------------------------------------------------------------------------------
BLUEPRINT = """\
name = "pair"
description = "Two branches and a join"

[vars]
greeting = "hello"

[agents.left]
prompt = "Say ${greeting} from the left"

[agents.right]
prompt = "Say ${greeting} from the right"

[agents.join]
prompt = "Join both"
depends_on = ["left", "right"]
"""

# Each branch waits until the other has started: were they not run side by side, the
# first would wait forever (and the test would time out).
SCRIPT["tasks"]["m1.left"] = {
    "start": [{"say": "left", "actions": [sh('touch "$HOME/left"; '
                                             'while [ ! -f "$HOME/right" ]; do sleep 0.1; done')]}]
}  # fmt: skip
SCRIPT["tasks"]["m1.right"] = {
    "start": [{"say": "right", "actions": [sh('touch "$HOME/right"; '
                                              'while [ ! -f "$HOME/left" ]; do sleep 0.1; done')]}]
}  # fmt: skip
SCRIPT["tasks"]["m1.join"] = {"start": [{"say": "joined"}]}


def test_a_blueprint_runs_its_branches_side_by_side_and_the_join_after(live: Live) -> None:
    live.script.write_text(json.dumps(SCRIPT))
    blueprint = live.tmp / "pair.toml"
    blueprint.write_text(BLUEPRINT)
    new_project(live, "bp", live.script)
    out = live.ok("apply", str(blueprint), "-p", "bp")
    assert "team m1 (pair) started with 3 member(s)" in out
    with engine(live, "bp"):
        waited = live.plait("wait", "pair", "-p", "bp", timeout=180)
        assert waited.returncode == 0, (waited.stdout, waited.stderr)
    rows = live.rows("bp")
    assert {rows[t]["status"] for t in rows} == {"done"}
    assert rows["m1.join"]["depends_on"] == ["m1.left", "m1.right"]
    assert rows["m1.left"]["name"] == "pair.left"
    assert live.json("result", "m1.join", "-p", "bp")["answer"] == "joined"
    # From the event log: both branches started before either ended; the join after both.
    started, ended = starts_and_ends(live.home() / "bp" / "plait.db")
    assert max(started["m1.left"], started["m1.right"]) < min(ended["m1.left"], ended["m1.right"])
    assert started["m1.join"] > max(ended["m1.left"], ended["m1.right"])
    assert "m1" not in started  # the team itself runs nothing


def starts_and_ends(db: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Per task, the event number of its workspace being ready (its start) and of its
    agent's last turn ending."""
    store = Store(db)
    try:
        started: dict[str, int] = {}
        ended: dict[str, int] = {}
        for seq, event in store.events():
            if isinstance(event, ev.WorkspaceReady):
                started.setdefault(event.task, seq)
            elif isinstance(event, ev.AgentFinished):
                ended[event.task] = seq
        return started, ended
    finally:
        store.close()


# ---- shared memory ---------------------------------------------------------------------------
MEMORY_SCRIPT = {
    "tasks": {
        "m1": {"start": [{"say": "noted", "actions": [
            sh(f'{PLAIT} memory add "The widget cache lives in /var/cache/widgets; clear it '
               'after schema changes" --tag cache'),
        ]}]},
        "m2": {"start": [{"say": "found it"}]},
    }
}  # fmt: skip


def test_a_memory_an_agent_writes_is_offered_in_a_later_tasks_start_prompt(live: Live) -> None:
    script = live.tmp / "memory-script.json"
    script.write_text(json.dumps(MEMORY_SCRIPT))
    new_project(live, "mem", script)
    with engine(live, "mem"):
        started = json.loads(live.ok("mission", "Find where the widget cache lives and note it",
                                     "-p", "mem", "--json"))  # fmt: skip
        assert started["id"] == "m1"
        assert live.plait("wait", "m1", "-p", "mem").returncode == 0
        [entry] = live.json("memory", "search", "widget cache", "-p", "mem")
        assert entry["task"] == "m1"  # who wrote it
        assert entry["tags"] == ["cache"]
        live.ok("mission", "Clear the widget cache after the schema change", "-p", "mem")
        assert live.plait("wait", "m2", "-p", "mem").returncode == 0
        log = live.ok("logs", "m2", "--json", "-p", "mem").splitlines()
        [prompt] = [json.loads(e) for e in log if json.loads(e)["kind"] == "Prompt"]
    text = str(prompt["event"]["text"])
    assert "From the project's shared memory" in text
    assert f"#{entry['id']} from task m1 [cache]: The widget cache lives in" in text
    assert "m1" in live.ok("memory", "list", "-p", "mem")
    assert live.plait("memory", "forget", str(entry["id"]), "-p", "mem").returncode == 0
    assert live.json("memory", "search", "widget", "-p", "mem") == []


# ---- attach ---------------------------------------------------------------------------------
ATTACH_SCRIPT = {
    "tasks": {
        "m1": {
            "start": [{"actions": [{"hang": 600}]}],
            "continue": [{"say": "continued after the person"}],
        }
    }
}


def test_attach_pauses_hands_over_the_session_and_gives_the_task_back(live: Live) -> None:
    script = live.tmp / "attach-script.json"
    script.write_text(json.dumps(ATTACH_SCRIPT))
    new_project(live, "att", script)
    with engine(live, "att"):
        live.ok("mission", "Work until someone looks", "-p", "att")
        worktree = live.home() / "att" / "worktrees" / "m1"
        until(lambda: processes.under(str(worktree)), what="the agent running")
        attached = subprocess.run(
            [sys.executable, "-m", "plait.cli", "attach", "m1", "-p", "att"],
            input="please also update the changelog\n",
            env=cli_env(live.tmp),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert attached.returncode == 0, attached.stderr
        assert "> please also update the changelog" in attached.stdout
        assert "m1 goes on from where you left it" in attached.stdout
        waited = live.plait("wait", "m1", "-p", "att", timeout=120)
        assert waited.returncode == 0, (waited.stdout, waited.stderr)
        assert live.json("result", "m1", "-p", "att")["answer"] == "continued after the person"
    banner = attached.stdout.splitlines()[1]
    assert banner.startswith("script agent (a simulator) for m1, session script-m1-")
    assert banner.endswith(f"in {worktree}")
