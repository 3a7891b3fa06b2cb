"""The `plait` command line. Every user mistake ends as one clear error line, no traceback.

One module per group of commands builds its parsers and handlers: `running` (run, resume,
init, up, down, adopt), `tasks` (ps, add, kill, retry, reset, wait, result, send, review,
logs), `projects` (projects, status, rm, validate, demo, doctor), `faces` (tui, web),
`workers` (worker, workers). Exit codes are in `plait.cli.exits`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
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


def build_parser() -> Parser:
    from plait.cli import (
        attach,
        budget,
        faces,
        memory,
        missions,
        plan,
        projects,
        running,
        schedules,
        service,
        swarm,
        tasks,
        workers,
    )

    p = Parser(
        prog="plait",
        description="Run many AI coding agents in parallel on one repository and carry "
        "their work all the way to main: worktrees, PRs, CI, review, rebases, merges.",
        epilog=EPILOG,
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"plait {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    running.register(sub)
    running.register_adopt(sub)
    tasks.register(sub)
    missions.register(sub)
    attach.register(sub)
    schedules.register(sub)
    memory.register(sub)
    budget.register(sub)
    projects.register(sub)
    faces.register(sub)
    swarm.register(sub)
    plan.register(sub)
    workers.register(sub)
    service.register(sub)
    return p


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
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone has nothing to be told
            stream.flush()
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
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
