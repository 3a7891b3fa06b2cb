"""Which workers can take a turn, and which queue to send it to. Pure.

A worker is known by what it tells Temporal: its identity (`NAME slots=N`), the activity
queue it polls (`<queue>@<its agents>`), how many of its slots are in use, and when it
last sent a heartbeat. A turn for agent A may go to any queue whose workers have A; the
controller tries them by free slots, most first. Temporal then hands the turn to one of
that queue's workers as soon as one has a slot free.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from plait.engine.executor import WorkerInfo

WORKER_BEAT = 5.0  # seconds between a worker's heartbeats to Temporal
LOST_AFTER = 3 * WORKER_BEAT  # a worker silent this long is shown as lost

_IDENTITY_RE = re.compile(r"^(?P<name>\S+) slots=(?P<slots>\d+)$")


def identity(name: str, slots: int) -> str:
    return f"{name} slots={slots}"


def parse_identity(text: str) -> tuple[str, int]:
    """(name, slots) from a worker identity; another program's identity keeps its text."""
    found = _IDENTITY_RE.match(text)
    if found is None:
        return text, 0
    return found["name"], int(found["slots"])


def activity_queue(queue: str, agents: Iterable[str]) -> str:
    """The queue of the workers that have exactly these agents."""
    return f"{queue}@{','.join(sorted(set(agents)))}"


def agents_of(queue: str, task_queue: str) -> tuple[str, ...] | None:
    """The agents an activity queue of `queue` stands for; None for any other queue."""
    prefix = f"{queue}@"
    if not task_queue.startswith(prefix):
        return None
    return tuple(a for a in task_queue[len(prefix) :].split(",") if a)


def candidate_queues(
    workers: Sequence[WorkerInfo],
    queue: str,
    agent: str,
    *,
    mine: Mapping[str, int] | None = None,
) -> list[str]:
    """The activity queues to try for a turn of `agent`, the one with most free slots
    first. `mine`: turns this controller sent to each queue that are not over yet (a
    worker's own count lags by a heartbeat). With no live worker for the agent, the queue
    a worker with only that agent would poll: the turn waits there for one."""
    slots: dict[str, int] = {}
    busy: dict[str, int] = {}
    for w in workers:
        if w.state != "running" or agent not in w.agents:
            continue
        q = activity_queue(queue, w.agents)
        slots[q] = slots.get(q, 0) + w.slots
        busy[q] = busy.get(q, 0) + w.busy
    if not slots:
        return [activity_queue(queue, (agent,))]
    sent = mine or {}

    def free(q: str) -> int:
        return slots[q] - max(busy[q], sent.get(q, 0))

    return sorted(slots, key=lambda q: (-free(q), q))
