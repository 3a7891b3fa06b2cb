"""The end-of-run summary: a table for people, one JSON object for programs.

Built from task rows (`plait.api.views.task_row`), so a run followed through the API and a
run hosted in this process print the same summary.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plait import exits
from plait.api.views import FINAL, project_outcome, task_row
from plait.core.model import RunState
from plait.core.money import usd

# Only an annotation: `plait status` (which draws the summary table) needs no engine.
if TYPE_CHECKING:
    from plait.engine.loop import EngineResult

Row = dict[str, Any]


def outcome(state: RunState, *, stopped: bool = False) -> str:
    return project_outcome(state, stopped=stopped)


def rows_outcome(rows: Sequence[Row], *, stopped: bool = False) -> str:
    """For tasks that have settled: merged (every one landed), stopped (by a signal) or
    needs-attention (some need a person, or wait on one that does)."""
    if all(r["status"] in FINAL for r in rows):
        return "merged"
    return "stopped" if stopped else "needs-attention"


def summary_json(
    state: RunState, *, stopped: bool = False, ids: Sequence[str] | None = None
) -> dict[str, object]:
    chosen = state.order if ids is None else [t for t in ids if t in state.tasks]
    rows = [task_row(state, state.tasks[tid]) for tid in chosen]
    word = outcome(state, stopped=stopped) if ids is None else rows_outcome(rows, stopped=stopped)
    return summary_from_rows(state.config.project, rows, outcome=word)


def summary_from_rows(project: str, rows: Sequence[Row], *, outcome: str) -> dict[str, object]:
    return {
        "type": "summary",
        "project": project,
        "outcome": outcome,
        "merged": sum(1 for r in rows if r["status"] in FINAL),
        "total": len(rows),
        "turns": sum(int(r["turns"]) for r in rows),
        "tokens": sum(int(r["tokens"]) for r in rows),
        "cost_usd": round(sum(float(r["cost_usd"]) for r in rows), 6),
        "tasks": list(rows),
    }


def summary_table(summary: dict[str, Any]) -> str:
    rows: list[Row] = summary["tasks"]
    header = ("task", "PR", "status", "turns", "tokens", "cost", "duration", "title")
    body = [
        (
            str(r["id"]),
            f"#{r['pr']}" if r["pr"] else "-",
            str(r["status"]),
            str(r["turns"]),
            f"{r['tokens']:,}",
            usd(r["cost_usd"]) if r["cost_usd"] else "-",
            f"{r['duration_s']:.1f}s",
            str(r["title"])[:48],
        )
        for r in rows
    ]
    if not body:
        return 'no tasks yet: add work with `plait add "…"` or `plait run PLAN`'
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip() for b in body]
    turns, tokens, cost = summary["turns"], summary["tokens"], summary["cost_usd"]
    lines.append("")
    lines.append(
        f"{summary['merged']}/{summary['total']} landed · {turns} agent "
        f"turn{'s' if turns != 1 else ''} · {tokens:,} tokens · {usd(cost)} · "
        f"outcome: {summary['outcome']}"
    )
    for r in rows:
        if r.get("stopped"):
            lines.append(f"  {r['id']} is stopped: {r['stopped']} (`plait retry {r['id']}`)")
        elif r.get("attention"):
            lines.append(f"  {r['id']} needs attention: {r['attention']}")
        elif r.get("over_budget"):
            lines.append(
                f"  {r['id']} is over budget: {r['over_budget']} "
                f"(`plait budget -p {summary['project']} --task {r['id']} --tokens N`)"
            )
    return "\n".join(lines)


def report(
    result: EngineResult,
    *,
    ids: Sequence[str] | None = None,
    json_mode: bool,
    extra: dict[str, object] | None = None,
) -> int:
    """Print the summary of a hosted run (the last line in JSON mode); its exit code."""
    state, stopped = result.state, result.stopped
    summary = summary_json(state, stopped=stopped, ids=ids)
    rows: list[Row] = summary["tasks"]  # type: ignore[assignment]
    others = len(state.tasks) - len(rows)
    if json_mode:
        sys.stdout.write(json.dumps({**summary, **(extra or {})}) + "\n")
        sys.stdout.flush()
    else:
        print()
        print(summary_table(summary))
        if others > 0:
            # --all: `ps` alone hides the landed ones, which may be all of them.
            where = f"`plait ps -p {state.config.project} --all`"
            print(f"\n{others} other task(s) in the project: {where}")
        if stopped:
            print(f"\nstopped; continue with `plait resume {state.config.project}`")
    return exit_code(str(summary["outcome"]))


def exit_code(outcome: str) -> int:
    if outcome == "merged":
        return exits.OK
    if outcome == "stopped":
        return exits.INTERRUPTED
    return exits.ATTENTION
