"""From a goal to a gameplan: what the planner agent is asked, and what of its answer is
the plan. Pure (the agent turns and the files are `plait.cli.plan`'s).

The agent explores a throwaway checkout of the repository and writes the plan to
`PLAN_FILE` there (or, failing that, puts it in its answer, ideally in a fenced
`markdown` block). A plan that `plait validate` refuses goes back to the agent, in its own
session, with the problems at file:line — up to a number of tries.
"""

from __future__ import annotations

import re

from plait.core.plan import PlanProblem

PLAN_FILE = "PLAN.md"

_FORMAT = """\
# Gameplan: <a short title>

## Problem Statement

<what is wrong or missing, and why it matters>

## Solution Summary

<the approach, in a few sentences>

## Patches

### Patch 1 [INFRA]: <title of the first change>

<what to change, where, and how to check it: enough for an agent to do it alone>

### Patch 2 [BEHAVIOR]: <title>

<…>

## Dependency Graph

- Patch 1 [INFRA] -> []
- Patch 2 [BEHAVIOR] -> [1]
"""


def first_prompt(goal: str) -> str:
    return (
        f"# Plan this work\n\n## Goal\n\n{goal.strip()}\n\n"
        "## What to do\n\n"
        "Explore this repository (read only: change no file of the project) and write a "
        f"gameplan for the goal into the file `{PLAN_FILE}` at the repository root. Split the "
        "work into patches that each leave the project working, each small enough for one "
        "coding agent in one session. Classify each patch: INFRA (set-up, no behaviour "
        "change), GATED (behind a flag or unused yet) or BEHAVIOR (what users see). Give "
        "each patch a body that says what to change, where, and how to check it. List every "
        "patch in the dependency graph with the patches it needs first.\n\n"
        f"## The format\n\n```markdown\n{_FORMAT}```\n\n"
        f"End your answer with one line saying that {PLAN_FILE} is written."
    )


def retry_prompt(problems: tuple[PlanProblem, ...]) -> str:
    listed = "\n".join(f"- {p.render()}" for p in problems[:30])
    more = f"\n- … and {len(problems) - 30} more" if len(problems) > 30 else ""
    return (
        f"# The plan does not validate\n\n`plait validate` refuses {PLAN_FILE}:\n\n"
        f"{listed}{more}\n\nFix every problem in {PLAN_FILE} (the line numbers are the "
        "file's), keep what was right, and say when it is written again."
    )


_FENCED = re.compile(r"^(`{3,}|~{3,})[ \t]*(?:markdown|md)?[ \t]*\n(.*?)^\1[ \t]*$", re.M | re.S)


def plan_from_answer(answer: str) -> str:
    """The gameplan in an agent's answer when it wrote no file: a fenced block holding a
    `# Gameplan` heading, else the answer from that heading on ("" when there is none)."""
    for match in _FENCED.finditer(answer):
        body = match.group(2)
        if "# Gameplan" in body or "## Patches" in body:
            return body
    start = answer.find("# Gameplan")
    return answer[start:] if start >= 0 else ""
