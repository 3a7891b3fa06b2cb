"""The `plait` command line. Every user mistake ends as one clear error line, no traceback.

Exit codes: 0 done (every task merged / command succeeded), 1 error, 2 bad usage,
3 bad plan, 4 git problem, 5 project problem, 6 agent problem, 7 forge problem,
10 run settled with tasks needing attention, 130 stopped by a signal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from plait import __version__
from plait.errors import PlaitError, PlanError, UsageError

EXIT_STOPPED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but bad flags raise UsageError (one line, with a hint) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message, hint=f"see `{self.prog} --help`")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="plait",
        description="Run many AI coding agents in parallel on one repository and carry "
        "their work all the way to main: worktrees, PRs, CI, review, rebases, merges.",
    )
    p.add_argument("--version", action="version", version=f"plait {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("run", help="run a plan (gameplan .md or .json) to main")
    run.add_argument("plan", help="the plan file")
    run.add_argument("--repo", default=".", help="the git repository (default: .)")
    run.add_argument("--project", help="project name (default: from the plan's title)")
    run.add_argument(
        "--forge",
        default="local",
        choices=["local", "github"],
        help="where PRs live: local (embedded, offline) or github",
    )
    run.add_argument("--token", help="GitHub token (default: GITHUB_TOKEN, then `gh auth token`)")
    run.add_argument("--github-url", help="GitHub API root, for GitHub Enterprise")
    run.add_argument("--remote", default="origin", help="the git remote of the forge")
    run.add_argument("--slug", help="OWNER/NAME on GitHub (default: from the remote)")
    run.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="how often to poll the forge (default: 0.5 local, 30 github)",
    )
    run.add_argument(
        "--agent",
        default="script",
        help="agent backend: claude, codex, opencode, pi, gemini, or script (a simulator)",
    )
    run.add_argument("--script", help="script file for the `script` agent simulator")
    run.add_argument("--model", help="model for the agent backend")
    run.add_argument(
        "--agent-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of the agent backend (executable, base_url, provider…); repeatable",
    )
    run.add_argument("--ci", help="CI command the local forge runs on each PR head")
    run.add_argument("--main", default="main", help="the main branch (default: main)")
    run.add_argument("--max-concurrency", type=_positive_int, default=4, metavar="N")
    run.add_argument(
        "--merge-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="merge a PR only after it sat mergeable this long (time for a human look)",
    )
    run.add_argument(
        "--cooldown",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="first wait when a backend hits a rate limit; it doubles up to 60x",
    )
    run.add_argument(
        "--idle-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="an agent silent this long is nudged once, then restarted",
    )
    run.add_argument("--turn-timeout", type=float, default=3600.0, metavar="SECONDS")
    run.add_argument("--keep-worktrees", action="store_true")
    run.add_argument("--json", action="store_true", help="JSON lines output")

    res = sub.add_parser("resume", help="resume an interrupted project")
    res.add_argument("project")
    res.add_argument("--token", help="GitHub token, for a GitHub project")
    res.add_argument("--json", action="store_true")

    st = sub.add_parser("status", help="show the tasks of a project")
    st.add_argument("project", nargs="?")
    st.add_argument("--json", action="store_true")

    val = sub.add_parser("validate", help="check a plan and show its tasks")
    val.add_argument("plan")
    val.add_argument("--json", action="store_true")

    rev = sub.add_parser("review", help="leave a review comment on a task's PR (local forge)")
    rev.add_argument("task")
    rev.add_argument("comment")
    rev.add_argument("--project")
    rev.add_argument("--path", help="file the comment is about")
    rev.add_argument("--line", type=_positive_int, help="line the comment is about")

    adopt = sub.add_parser(
        "adopt", help="take over an existing PR and keep it green (CI fixes, reviews, rebases)"
    )
    adopt.add_argument("pr", type=_positive_int, help="the PR number")
    adopt.add_argument("--project", help="add it to this project (default: REPO-prs)")
    adopt.add_argument("--repo", default=".", help="the git repository (default: .)")
    adopt.add_argument("--forge", default="github", choices=["local", "github"])
    adopt.add_argument("--agent", default="claude", help="agent backend for its turns")
    adopt.add_argument("--script", help="script file for the `script` agent simulator")
    adopt.add_argument("--model", help="model for the agent backend")
    adopt.add_argument("--agent-opt", action="append", default=[], metavar="KEY=VALUE")
    adopt.add_argument("--merge", action="store_true", help="merge it when green and approved")
    adopt.add_argument("--token", help="GitHub token (default: GITHUB_TOKEN, then gh)")
    adopt.add_argument("--github-url", help="GitHub API root, for GitHub Enterprise")
    adopt.add_argument("--remote", default="origin")
    adopt.add_argument("--poll-interval", type=float, default=None, metavar="SECONDS")
    adopt.add_argument("--json", action="store_true")

    send = sub.add_parser("send", help="send a message to a task's agent")
    send.add_argument("task")
    send.add_argument("message")
    send.add_argument("--project")

    logs = sub.add_parser("logs", help="show a task's agent transcript")
    logs.add_argument("task")
    logs.add_argument("--project")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--json", action="store_true")

    demo = sub.add_parser(
        "demo", help="run the whole lifecycle on a throwaway project (scripted agent)"
    )
    demo.add_argument("--dir", help="where to create (or resume) the demo")
    demo.add_argument("--json", action="store_true")

    doc = sub.add_parser("doctor", help="check git, agent CLIs and their logins, tokens")
    doc.add_argument("--json", action="store_true")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        return _dispatch(args)
    except PlanError as exc:
        print(f"plait: invalid plan:\n{exc.render_all()}", file=sys.stderr)
        return exc.exit_code
    except PlaitError as exc:
        hint = f"\n  hint: {exc.hint}" if exc.hint else ""
        print(f"plait: {exc.message}{hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("plait: interrupted", file=sys.stderr)
        return EXIT_STOPPED


def _dispatch(args: argparse.Namespace) -> int:
    from plait import commands

    handler = {
        "run": commands.cmd_run,
        "resume": commands.cmd_resume,
        "status": commands.cmd_status,
        "validate": commands.cmd_validate,
        "review": commands.cmd_review,
        "send": commands.cmd_send,
        "adopt": commands.cmd_adopt,
        "logs": commands.cmd_logs,
        "demo": commands.cmd_demo,
        "doctor": _doctor,
    }[args.command]
    return handler(args)


def _doctor(args: argparse.Namespace) -> int:
    from plait.doctor import cmd_doctor

    return cmd_doctor(args)


if __name__ == "__main__":
    sys.exit(main())
