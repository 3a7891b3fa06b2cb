"""The end-of-run summary: a table for people, one JSON object for programs."""

from __future__ import annotations

from plait.core.model import Phase, RunState, TaskState
from plait.core.progress import all_merged, totals
from plait.core.task import attention_reason, display_status


def _duration(t: TaskState, now: float) -> float:
    if not t.started_at:
        return 0.0
    end = t.finished_at or now
    return max(0.0, end - t.started_at)


def task_row(state: RunState, t: TaskState) -> dict[str, object]:
    spec = state.specs[t.id]
    return {
        "id": t.id,
        "title": spec.title,
        "status": display_status(t, state.config),
        "pr": t.pr.number if t.pr else None,
        "branch": t.branch or None,
        "turns": t.turns,
        "tokens": t.usage.total_tokens,
        "input_tokens": t.usage.input_tokens,
        "output_tokens": t.usage.output_tokens,
        "cost_usd": round(t.usage.cost_usd, 6),
        "duration_s": round(_duration(t, state.now), 2),
        "merge_sha": t.merge_sha or None,
        "ci_failures": t.counters.ci_failures,
        "attention": attention_reason(t, state.config) or None,
        "depends_on": list(spec.depends_on),
    }


def outcome(state: RunState, *, stopped: bool = False) -> str:
    if all_merged(state):
        return "merged"
    if stopped:
        return "stopped"
    if any(attention_reason(t, state.config) for t in state.tasks.values()):
        return "needs-attention"
    return "running"


def summary_json(state: RunState, *, stopped: bool = False) -> dict[str, object]:
    tot = totals(state)
    return {
        "type": "summary",
        "project": state.config.project,
        "outcome": outcome(state, stopped=stopped),
        "merged": tot.merged,
        "total": tot.tasks,
        "turns": tot.turns,
        "tokens": tot.usage.total_tokens,
        "cost_usd": round(tot.usage.cost_usd, 6),
        "tasks": [task_row(state, state.tasks[tid]) for tid in state.order],
    }


def summary_table(state: RunState, *, stopped: bool = False) -> str:
    rows = [task_row(state, state.tasks[tid]) for tid in state.order]
    header = ("task", "PR", "status", "turns", "tokens", "duration", "title")
    body = [
        (
            str(r["id"]),
            f"#{r['pr']}" if r["pr"] else "-",
            str(r["status"]),
            str(r["turns"]),
            f"{r['tokens']:,}",
            f"{r['duration_s']:.1f}s",
            str(r["title"])[:48],
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip() for b in body]
    tot = totals(state)
    merged = sum(1 for t in state.tasks.values() if t.phase is Phase.MERGED)
    lines.append("")
    lines.append(
        f"{merged}/{tot.tasks} merged · {tot.turns} agent turns · "
        f"{tot.usage.total_tokens:,} tokens · ${tot.usage.cost_usd:.4f} · "
        f"outcome: {outcome(state, stopped=stopped)}"
    )
    for r in rows:
        if r["attention"]:
            lines.append(f"  {r['id']} needs attention: {r['attention']}")
    return "\n".join(lines)
