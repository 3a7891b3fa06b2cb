"""`plait plan "goal" [--agent A] [--out PLAN.md]`: a planner agent writes a gameplan.

The agent works in a throwaway checkout of the main branch (it explores; whatever it
changes is thrown away with the checkout), writes the plan (see `plans.drafting`), and the
plan is validated as `plait validate` would; refused, it goes back to the agent in its own
session with the problems, up to `--tries` times. The plan that validates is written to
`--out` for a person to read and `plait run`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from plait import exits
from plait.agents.base import AgentBackend, TurnSpec
from plait.agents.registry import get_backend
from plait.agents.runner import run_turn
from plait.cli.common import add_json_flag, print_json
from plait.cli.running import agent_options, check_repo_quiet, pick_agent, require_script
from plait.core.plan import Plan, PlanProblem
from plait.engine.settings import file_options, repo_config
from plait.errors import AgentError, PlanError, UsageError
from plait.plans.drafting import PLAN_FILE, first_prompt, plan_from_answer, retry_prompt
from plait.plans.load import load_plan, plan_to_json
from plait.workspaces.git import git_sync

KIND = "plan"  # the turn kind (the script agent plays `plan` turns)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="ask a planner agent for a gameplan that validates, for a goal",
        description="A planner agent explores the repository (in a throwaway checkout) and "
        "writes a gameplan for GOAL; a plan `plait validate` refuses goes back to it with "
        "the problems. The plan is written to --out for you to read, then `plait run` it.",
    )
    p.add_argument("goal", help="what the plan should achieve, in a sentence or a paragraph")
    p.add_argument("--agent", help="the planner's agent backend (default: as for plait run)")
    p.add_argument("--model", help="the planner's model (default: the CLI's own)")
    p.add_argument(
        "--agent-opt", action="append", default=[], metavar="KEY=VALUE", help="a backend option"
    )
    p.add_argument("--script", help="the script file of the `script` agent (implies it)")
    p.add_argument("--repo", help="the git repository (default: the current directory)")
    p.add_argument("--main", default="main", help="the branch to plan on (default: main)")
    p.add_argument("--out", default=PLAN_FILE, help=f"where to write the plan ({PLAN_FILE})")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.add_argument("--tries", type=int, default=3, help="times to ask the agent (default 3)")
    add_json_flag(p, "print the plan's tasks as JSON")
    p.set_defaults(handler=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    if not args.goal.strip():
        raise UsageError("the goal is empty", hint='plait plan "what the plan should achieve"')
    if args.tries < 1:
        raise UsageError("--tries must be at least 1", hint="--tries 3")
    out = Path(args.out).expanduser().resolve()
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists", hint="pass --out ANOTHER.md, or --force")
    if not out.parent.is_dir():
        # Said before the planner spends its turns, whose plan would have nowhere to go.
        raise UsageError(f"{out.parent} is not a folder", hint="--out PATH in a folder that exists")
    repo = check_repo_quiet(args.repo or ".")
    if not repo:
        raise UsageError(f"{args.repo or '.'} is not in a git repository", hint="--repo PATH")
    backend, model = _backend(args, repo)
    with _checkout(repo, args.main) as workdir:
        plan, tries = _draft(backend, model, args.goal, workdir, args.tries)
        _save(Path(workdir) / PLAN_FILE, out)
    if args.json:
        print_json({"path": str(out), "tries": tries, "title": plan.title,
                    "tasks": plan_to_json(plan)})  # fmt: skip
    else:
        print(f"wrote {out}: {len(plan.tasks)} tasks ({plan.title}) after {tries} tr"
              f"{'y' if tries == 1 else 'ies'}; read it, then `plait run {args.out}`")  # fmt: skip
    return exits.OK


def _save(plan: Path, out: Path) -> None:
    try:
        shutil.copyfile(plan, out)
    except OSError as exc:
        # The folder may have gone while the planner worked: keep its plan on screen.
        print(plan.read_text(encoding="utf-8"), end="")
        raise UsageError(
            f"cannot write {out}: {exc.strerror or exc}; the plan is printed above",
            hint="save it yourself, or pass another --out",
        ) from None


def _backend(args: argparse.Namespace, repo: str) -> tuple[AgentBackend, str]:
    agent = pick_agent(args, repo)
    options: dict[str, Any] = file_options(agent, repo_config(repo), repo)
    options.update(agent_options(args.agent_opt))
    if args.model:
        options["model"] = args.model
    script = str(Path(args.script).resolve()) if args.script else None
    require_script(agent, script or str(options.get("script") or ""), repo)
    if script:  # the flag wins over plait.toml's, as every flag does
        options["script"] = script
    backend = get_backend(agent, options, script=script)
    return backend, str(options.get("model") or "")


@contextmanager
def _checkout(repo: str, main: str) -> Iterator[str]:
    """A detached checkout of `main` in a temp folder, gone afterwards."""
    folder = tempfile.mkdtemp(prefix="plait-plan-")
    workdir = os.path.join(folder, "repo")
    added = git_sync("worktree", "add", "--detach", workdir, main, cwd=repo, check=False)
    if added.code != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise UsageError(f"cannot check out {main}: {added.err.strip()}", hint="--main BRANCH")
    try:
        yield workdir
    finally:
        git_sync("worktree", "remove", "--force", workdir, cwd=repo, check=False)
        shutil.rmtree(folder, ignore_errors=True)


def _draft(
    backend: AgentBackend, model: str, goal: str, workdir: str, tries: int
) -> tuple[Plan, int]:
    prompt, session = first_prompt(goal), ""
    problems: tuple[PlanProblem, ...] = ()
    taken = ""  # the plan plait wrote from an answer, for a later answer to replace
    for attempt in range(1, tries + 1):
        spec = TurnSpec(prompt=prompt, workdir=workdir, session_id=session, model=model,
                        task_id="plan", project="plan", kind=KIND)  # fmt: skip
        outcome = asyncio.run(run_turn(backend, spec, base_env=os.environ))
        if not outcome.ok:
            raise AgentError(
                f"the planner agent failed ({outcome.failure}): {outcome.error}",
                hint="see `plait doctor`; try again, or another --agent",
            )
        session = outcome.session_id or session
        problems, taken = _check(workdir, outcome.reply, taken)
        if not problems:
            return load_plan(Path(workdir) / PLAN_FILE), attempt
        prompt = retry_prompt(problems)
    summary = PlanProblem(
        PLAN_FILE,
        0,
        f"the planner's plan still does not validate after {tries} "
        + ("try" if tries == 1 else "tries"),
        "run plait plan again (--tries more), or write the plan yourself",
    )
    raise PlanError([summary, *problems])


def _check(workdir: str, answer: str, taken: str) -> tuple[tuple[PlanProblem, ...], str]:
    """What is wrong with the plan the agent wrote (nothing: it validates), and the plan
    plait wrote from its answer ("" when the agent wrote the file itself).

    An agent may answer with the plan instead of writing the file: plait writes it. On a
    later try it may answer again with the fixed plan rather than edit that file, so an
    answer with a plan replaces a file the agent did not touch since plait wrote it."""
    path = Path(workdir) / PLAN_FILE
    untouched = path.is_file() and bool(taken) and _read(path) == taken
    if not path.is_file() or untouched:
        text = plan_from_answer(answer)
        if text:
            path.write_text(text, encoding="utf-8")
            taken = text
        elif not path.is_file():
            hint = f"the agent must write the plan to {PLAN_FILE}"
            return (PlanProblem(PLAN_FILE, 0, f"{PLAN_FILE} was not written", hint),), ""
    else:
        taken = ""
    try:
        load_plan(path)
    except PlanError as exc:
        # Named as the agent sees the file: relative to its working directory.
        return tuple(replace(p, path=PLAN_FILE) for p in exc.problems), taken
    return (), taken


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
