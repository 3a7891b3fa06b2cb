"""The `plait` command line. Every user mistake ends as one clear error line, no traceback.

One module per group of commands builds its parsers and handlers: `running` (run, resume,
init, up, down, adopt), `tasks` (ps, add, kill, retry, reset, wait, result, send, review,
logs), `projects` (projects, status, rm, validate, demo, doctor), `faces` (tui, web),
`workers` (worker, workers). Exit codes are in `plait.cli.exits`. A command line imports
only the module of the command it names (`COMMANDS`), so that a quick command starts
quickly.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
from collections.abc import Sequence

from plait import __version__, exits
from plait.cli.common import Parser, project_from
from plait.errors import PlaitError, PlanError

EPILOG = """\
exit codes: 0 done, 2 bad usage, 3 invalid plan (or plait.toml, blueprint), 4 git
problem, 5 project problem, 6 agent problem, 7 forge problem, 8 Temporal problem, 10 tasks
need attention, 11 a task is stopped, 124 a wait timed out, 130 stopped by a signal.

Projects live in $PLAIT_HOME/projects/<name>/ (default ~/.local/share/plait). A task's
class (INFRA, GATED, BEHAVIOR) may have its own agent, model and concurrency cap in the
repository's plait.toml; at most 4 agents work at once unless --max-concurrency says.
"""


# Every command, by the module (and its `register` function) that builds its parser and
# runs it, in the order `plait --help` lists them, with the line that help shows. A run of
# `plait ps` imports only `plait.cli.tasks`: the other modules pull in the web server, the
# TUI, Temporal's SDK and the forges, which cost most of a second of CPU at every start
# (the CLI runs constantly: by people, by agents inside their turns, by the tests). Each
# other command gets a stand-in parser with its name and help line, so the top-level help
# and the "invalid choice" error read as before. tests/cli/test_cli_start.py checks this
# table against what the modules register.
COMMANDS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "running",
        "register",
        (
            (
                "run",
                "add a plan's tasks to a project (created on first use) and follow them to main",
            ),
            ("resume", "run a project's engine here until its tasks settle"),
            ("init", "create a project for a repository, with no tasks yet"),
            ("up", "start a project's engine in the background"),
            ("down", "stop a project's background engine cleanly"),
        ),
    ),
    (
        "running",
        "register_adopt",
        (("adopt", "take over an existing PR and keep it green (CI fixes, reviews, rebases)"),),
    ),
    (
        "tasks",
        "register",
        (
            ("ps", "the project's tasks: status, agent, PR, cost, CPU/memory"),
            ("add", "add one task to a project (live or idle)"),
            ("kill", "stop a task's agent now; keep its work; park it as stopped"),
            ("retry", "let a stopped or stuck task go again from where it is"),
            ("reset", "clear a task's failure counters and retry it (--hard: start over)"),
            (
                "wait",
                "wait until tasks land (exit 0), need attention (10), are stopped (11), "
                "fail (a mission: its agent's exit code) or time out (124)",
            ),
            ("result", "a task's final answer and how it landed"),
            ("send", "send a message to a task's agent; clears needs-attention"),
            ("review", "leave a review comment on a task's PR (local forge); the agent answers"),
            ("logs", "a task's agent transcript"),
        ),
    ),
    (
        "missions",
        "register",
        (
            (
                "mission",
                "start a mission: an agent on a prompt, its answer the result; prints id and name",
            ),
            (
                "apply",
                "start a blueprint's team: a parent mission whose agents follow their depends_on",
            ),
        ),
    ),
    (
        "attach",
        "register",
        (("attach", "take over a task's agent session in this terminal; the task goes on after"),),
    ),
    (
        "schedules",
        "register",
        (("schedule", "start missions, blueprints or tasks on a cron schedule"),),
    ),
    ("memory", "register", (("memory", "the project's shared memory: notes for later tasks"),)),
    (
        "budget",
        "register",
        (("budget", "show what the project (or a task) spent and may spend; set a limit"),),
    ),
    (
        "projects",
        "register",
        (
            ("projects", "every project: state (running/idle/needs-attention/done), tasks, cost"),
            ("status", "a project's tasks and totals (no project: all projects)"),
            ("rm", "delete (or --archive) a project; the repository stays"),
            (
                "validate",
                "check a plan (or a plait.toml, swarm config, blueprint or ticket): "
                "every problem with file:line and a fix",
            ),
            ("demo", "the whole lifecycle on a throwaway project (scripted agent, offline)"),
            ("doctor", "check git, agent CLIs and their logins, tokens"),
        ),
    ),
    (
        "faces",
        "register",
        (
            (
                "tui",
                "watch and steer a project in the terminal (tasks, transcripts, timeline, graph)",
            ),
            ("web", "the project's live dashboard in a browser (starts its engine if needed)"),
        ),
    ),
    (
        "swarm",
        "register",
        (
            (
                "swarm",
                "run worker groups on a tasks/ folder until the queue is empty (or: swarm status)",
            ),
        ),
    ),
    (
        "plan",
        "register",
        (("plan", "ask a planner agent for a gameplan that validates, for a goal"),),
    ),
    (
        "workers",
        "register",
        (
            ("worker", "take agent turns from a Temporal queue on this machine"),
            ("workers", "list the workers that take a project's agent turns"),
        ),
    ),
    (
        "service",
        "register",
        (("service", "run a project's engine as a user service (systemd or launchd)"),),
    ),
)


def build_parser(argv: Sequence[str] | None = None) -> Parser:
    """The whole parser; given the command line, only the named command's module is
    imported and the others are stand-ins (name and help line)."""
    p = Parser(
        prog="plait",
        description="Run many AI coding agents in parallel on one repository and carry "
        "their work all the way to main: worktrees, PRs, CI, review, rebases, merges.",
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"plait {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    word = None if argv is None else command_word(argv)
    for module, register, commands in COMMANDS:
        if argv is None or any(name == word for name, _ in commands):
            getattr(importlib.import_module(f"plait.cli.{module}"), register)(sub)
        else:
            for name, line in commands:
                sub.add_parser(name, help=line)
    return p


def command_word(argv: Sequence[str]) -> str | None:
    """The command a command line names: its first word that is not a flag (`plait` itself
    takes only `-h` and `--version`, neither with a value)."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    code = _main(argv)
    if argv is None and "temporalio.runtime" in sys.modules:
        _exit_now(code)
    return code


def _invalid(exc: PlanError) -> str:
    """What is invalid, by its file: a plan, a plait.toml, a blueprint, a swarm's config or
    a ticket all end here, and calling each 'plan' misled."""
    paths = list(dict.fromkeys(p.path for p in exc.problems))
    return f"problems in {paths[0]}" if len(paths) == 1 else "problems in " + ", ".join(paths)


def _exit_now(code: int) -> None:
    """End the `plait` process without the interpreter's teardown. Temporal's SDK keeps
    native threads that may still hold the GIL while Python finalizes, which aborts the
    process (SIGABRT, exit 134, "Fatal Python error: PyGILState_Release") after plait
    has already said everything: temporalio/sdk-python issue 300. Only the command itself
    takes this exit (`argv is None`); a caller of `main([...])` keeps its interpreter."""
    import logging  # loaded already by whatever started Temporal's SDK

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone has nothing to be told
            stream.flush()
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        project_from(args)
        if args.command is None:
            parser.print_help()
            return exits.OK
        code: int = args.handler(args)
        return code
    except PlanError as exc:
        print(f"plait: {_invalid(exc)}:\n{exc.render_all()}", file=sys.stderr)
        return exc.exit_code
    except PlaitError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"plait: {exc.message}{hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("plait: interrupted", file=sys.stderr)
        return exits.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`plait logs --json | head`): stop quietly. Point stdout
        # at /dev/null so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return exits.OK


if __name__ == "__main__":
    sys.exit(main())
