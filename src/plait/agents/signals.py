"""What a worker's final answer may signal, in a documented form. Pure.

- `NOTHING TO DO: <why>` on a line of its own (any case; `NOTHING_TO_DO`, markdown marks
  around it are fine): the task needs no change. The task closes as skipped with the
  reason, if the turn committed nothing.
- A fenced block whose info string is `plait-tasks`, holding a JSON ticket or a list of
  them (the fields of `plait.plans.tickets`): follow-up tasks for the swarm's queue. An
  item without an id gets `<task>-f<n>`; items that are not valid tickets are left out,
  with the reason.
"""

from __future__ import annotations

import re

from plait.core.landing import PROPOSALS_FENCE
from plait.core.plan import TaskSpec
from plait.errors import PlanError
from plait.plans.jsonpos import JsonSyntaxError, read_json
from plait.plans.tickets import ticket_from

MAX_PROPOSALS = 20
_MARKS = "*_`#> \t"
_NOTHING = re.compile(r"nothing[ _]to[ _]do\b[ \t*_`]*[:\-–—]?[ \t]*(.*)", re.I)
_FENCE = re.compile(r"^(`{3,}|~{3,})[ \t]*" + re.escape(PROPOSALS_FENCE) + r"[ \t]*$", re.M)


def nothing_to_do(reply: str) -> str:
    """The reason of the last `NOTHING TO DO` line, or "" when there is none."""
    found = ""
    for line in reply.splitlines():
        match = _NOTHING.match(line.strip(_MARKS))
        if match:
            found = match.group(1).strip(_MARKS).strip() or "the agent said there is nothing to do"
    return found[:2000]


def proposals(reply: str, proposer: str) -> tuple[tuple[TaskSpec, ...], tuple[str, ...]]:
    """Tasks proposed in `plait-tasks` blocks, and why any item was left out."""
    specs: list[TaskSpec] = []
    problems: list[str] = []
    for n, block in enumerate(_blocks(reply), start=1):
        try:
            doc = read_json(block)
        except JsonSyntaxError as exc:
            problems.append(f"block {n}: not valid JSON: {exc.message}")
            continue
        items = doc.value if isinstance(doc.value, list) else [doc.value]
        for item in items:
            if len(specs) >= MAX_PROPOSALS:
                problems.append(f"more than {MAX_PROPOSALS} proposals: the rest left out")
                return tuple(specs), tuple(problems)
            if not isinstance(item, dict):
                problems.append(f"block {n}: a proposal must be a JSON object")
                continue
            default = f"{proposer}-f{len(specs) + 1}"
            try:
                ticket = ticket_from(item, "proposal", lambda key: 0, default_id=default)
            except PlanError as exc:
                problems.append(f"block {n}: {exc.problems[0].message}")
                continue
            specs.append(ticket.spec(origin=f"agent:{proposer}"))
    return tuple(specs), tuple(problems)


def _blocks(reply: str) -> list[str]:
    out = []
    for match in _FENCE.finditer(reply):
        fence = match.group(1)
        start = match.end() + 1
        close = re.compile(r"^" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}[ \t]*$", re.M)
        end = close.search(reply, start)
        out.append(reply[start : end.start() if end else len(reply)])
    return out
