"""`plait attach TASK`: hand a task's agent session to this terminal, then give it back.

How this works: the task is stopped (`kill`, reason "attached"), so its running turn
ends and reports its session; once no process runs in its workspace any more, the CLI's
own interactive resume of that session runs here, in the workspace, with the task's
agent environment. When the person leaves it, the task is let go again (`retry`): its
next turn continues the same session — now holding what the person did. A task that was
already stopped stays stopped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from typing import Any

from plait import exits, processes
from plait.agents.attach import interactive_argv
from plait.agents.base import TurnSpec
from plait.api.client import ProjectAPI, open_api
from plait.api.views import ENDED
from plait.cli.common import add_project_flag
from plait.engine.project import open_project, project_backend
from plait.errors import UsageError

SETTLE_WAIT = 60.0  # seconds the agent's turn may take to stop
PARKED_WAIT = 5.0  # a turn parked (not running) keeps its effect: stop waiting after this
_POLL = 0.2
REASON = "attached: a person has its session (`plait attach`)"


def cmd_attach(args: argparse.Namespace) -> int:
    proj = open_project(args.project)
    api = open_api(proj)
    tid = ""
    let_go = False
    try:
        task = api.task(args.task)
        tid = str(task["id"])
        if task["status"] in ENDED:
            raise UsageError(f"task {tid} is {task['status']}; there is no turn to take over",
                             hint='start follow-up work with `plait mission "…"`')  # fmt: skip
        if not task["stopped"]:
            api.command("kill", tid, reason=REASON)
            let_go = True
        task = _settled(api, tid)
        session, workspace = task.get("session_id"), task.get("worktree")
        if not session or not workspace:
            raise UsageError(f"task {tid} has no agent session yet",
                             hint="attach once its agent has started (see `plait ps`)")  # fmt: skip
        backend = project_backend(proj, str(task["agent"]))
        argv = interactive_argv(backend, str(session), task=tid)
        spec = TurnSpec(prompt="", workdir=str(workspace), session_id=str(session), task_id=tid,
                        project=proj.name, kind="attach")  # fmt: skip
        env = backend.env(os.environ, spec)
        print(f"plait: {tid} is paused; its session {session} is yours in {workspace}. "
              "Leave it to give the task back.", flush=True)  # fmt: skip
        code = subprocess.call(argv, cwd=str(workspace), env=env)
    finally:
        if let_go and tid:
            api.command("retry", tid)
        api.close()
        proj.close()
    word = (
        "goes on from where you left it" if let_go else "stays stopped (`plait retry` lets it go)"
    )
    print(f"plait: {tid} {word}")
    return exits.OK if code == 0 else code


def _settled(api: ProjectAPI, tid: str) -> dict[str, Any]:
    """The task once its agent turn has stopped (no process in its workspace)."""
    started = time.monotonic()
    while True:
        task = api.task(tid)
        workspace = task.get("worktree")
        busy = bool(workspace) and bool(processes.under(str(workspace)))
        turning = task.get("in_flight") and task.get("step") == "agent"
        waited = time.monotonic() - started
        if not busy and (not turning or waited > PARKED_WAIT or not api.live):
            return task
        if waited > SETTLE_WAIT:
            raise UsageError(f"task {tid}'s agent did not stop within {SETTLE_WAIT:g}s",
                             hint=f"try again, or `plait kill {tid}` first")  # fmt: skip
        time.sleep(_POLL)


def register(sub: Any) -> None:
    attach = sub.add_parser(
        "attach",
        help="take over a task's agent session in this terminal; the task goes on after",
        description="Pause the task, resume its agent's session interactively here (in its "
        "workspace, with its agent's own interactive mode), and let the task go on when you "
        "leave: its next turn continues the same session.",
    )
    attach.add_argument("task", help="task or mission id, or its name")
    add_project_flag(attach)
    attach.set_defaults(handler=cmd_attach)
