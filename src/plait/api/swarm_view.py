"""What `plait swarm status` (and any face) shows of a swarm: its workers, their claims and
totals, the queue, and the run log — all derived from the state's immutable log entries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from plait.core.model import LogEntry, Phase, RunState
from plait.core.progress import stuck_tasks
from plait.core.swarm import claims, worker_names

Json = dict[str, Any]

_OUTCOME_TOTALS = {
    "merged": "merges",
    "rejected": "rejections",
    "skipped": "skipped",
    "planned": "planned",
    "error": "errors",
    "stuck": "stuck",
    "interrupted": "interrupted",
}


def entries(state: RunState) -> Iterator[tuple[str, LogEntry]]:
    for tid in state.order:
        for entry in state.tasks[tid].log:
            yield tid, entry


def worker_rows(state: RunState) -> list[Json]:
    """One row per configured worker (and any worker the log names that is gone)."""
    held = claims(state)
    rows: dict[str, Json] = {}
    for group in state.config.workers:
        for name in worker_names(group):
            rows[name] = _row(name, group.name, group.agent or state.config.agent, group.model)
    for tid, entry in entries(state):
        row = rows.setdefault(entry.worker, _row(entry.worker, "", entry.agent, entry.model))
        if not entry.worker:
            continue
        if entry.kind == "review":
            row["review_rounds"] += 1
            continue
        row["cycles"] += 1
        row["cost_usd"] = round(row["cost_usd"] + entry.usage.cost_usd, 6)  # reviews included
        row["claims"] += len(entry.claimed)
        row["recycled"] += len(entry.returned)
        total = _OUTCOME_TOTALS.get(entry.outcome)
        if total:
            row[total] += 1
        row["last"] = {"task": tid, "outcome": entry.outcome, "at": entry.at}
    for name, tid in held.items():
        if name in rows:
            rows[name]["claim"] = tid
    for name, worker in state.swarm.workers.items():
        if name in rows and worker.idle_until > state.now:
            rows[name]["resting_until"] = worker.idle_until
    return [rows[name] for name in rows if name]


def _row(name: str, group: str, agent: str, model: str) -> Json:
    return {
        "worker": name,
        "group": group or name.rpartition("/")[0],
        "agent": agent,
        "model": model or None,
        "claim": None,
        "resting_until": None,
        "cycles": 0,
        "claims": 0,
        **dict.fromkeys(_OUTCOME_TOTALS.values(), 0),
        "recycled": 0,
        "review_rounds": 0,
        "cost_usd": 0.0,
        "last": None,
    }


def log_rows(state: RunState, *, last: int = 50) -> list[Json]:
    """The run log's latest entries, oldest first: worker cycles and review rounds."""
    ordered = sorted(entries(state), key=lambda pair: pair[1].at)[-last:]
    return [
        {
            "task": tid,
            "kind": e.kind,
            "worker": e.worker or None,
            "cycle": e.cycle,
            "outcome": e.outcome,
            "reason": e.reason or None,
            "round": e.round,
            "issues": list(e.issues),
            "agent": e.agent,
            "model": e.model or None,
            "session_id": e.session_id or None,
            "started_at": e.started_at,
            "at": e.at,
            "seconds": e.seconds,
            "tokens": e.usage.total_tokens,
            "cost_usd": round(e.usage.cost_usd, 6),
            "claimed": list(e.claimed),
            "returned": list(e.returned),
            "merge_sha": e.merge_sha or None,
        }
        for tid, e in ordered
    ]


def queue_counts(state: RunState) -> Json:
    stuck = stuck_tasks(state)
    counts = {"waiting": 0, "claimed": 0, "merged": 0, "skipped": 0, "stuck": 0, "active": 0}
    held = set(claims(state).values())
    for tid in state.order:
        if not state.specs[tid].queue:
            continue
        t = state.tasks[tid]
        if t.phase is Phase.MERGED:
            counts["skipped" if t.skipped else "merged"] += 1
        elif tid in stuck:
            counts["stuck"] += 1
        elif tid in held:
            counts["claimed"] += 1
        elif t.phase is Phase.WAITING:
            counts["waiting"] += 1
        else:
            counts["active"] += 1
    return counts


PROBLEMS_META = "source:tickets:problems"  # where the tickets source keeps its problems


def reported_problems(remembered: str | None) -> list[str]:
    """The tickets source's current problems (a JSON list of lines in the store's meta)."""
    try:
        value = json.loads(remembered or "[]")
    except ValueError:
        return []
    return [str(x) for x in value] if isinstance(value, list) else []


def swarm_status(state: RunState, *, problems: list[str], last: int = 50) -> Json:
    return {
        "project": state.config.project,
        "draining": state.swarm.draining,
        "queue": queue_counts(state),
        "workers": worker_rows(state),
        "log": log_rows(state, last=last),
        "problems": problems,
    }
