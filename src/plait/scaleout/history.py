"""Reading a turn's workflow history: its transcript, where it runs, how it ended.

The controller follows each turn's history (a long poll that returns as events are
added). Transcript batches the worker signalled become rows in the project's store; rows
the store already holds (written before a restart of the controller) are the history's
first entries in the same order, so their count is where writing resumes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.converter import DataConverter

from plait.engine.executors import Seen
from plait.scaleout.jobs import TRANSCRIPT_SIGNAL, TranscriptBatch, TurnDone
from plait.scaleout.turns import usage_of

CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "failed",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "cancelled",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: "terminated",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: "timed out",
}

# (epoch seconds, kind, body): one transcript row of the turn.
RowWriter = Callable[[float, str, str], None]


@dataclass
class RemoteTurn:
    """A turn under way on a worker, as the controller follows it."""

    task: str
    where: str = "waiting"  # the worker's name once an attempt reports
    queue: str = ""
    seen: Seen = field(default_factory=Seen)  # session and usage its transcript reported


class HistoryReader:
    """One pass over a turn's workflow history, event by event."""

    def __init__(
        self, converter: DataConverter, turn: RemoteTurn, *, stored: int, write: RowWriter
    ) -> None:
        self.converter = converter
        self.turn = turn
        self.stored = stored
        self.write = write
        self.seen = 0

    async def read(self, event: HistoryEvent) -> TurnDone | None:
        """The turn's outcome when `event` ends the workflow, else None."""
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            await self._transcript(event)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            self.turn.where = "waiting"
            self.turn.queue = event.activity_task_scheduled_event_attributes.task_queue.name
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            payloads = event.workflow_execution_completed_event_attributes.result.payloads
            [done] = await self.converter.decode(payloads, [TurnDone])
            assert isinstance(done, TurnDone)
            return done
        elif kind in CLOSED:
            why = f"the turn's workflow {CLOSED[kind]}: {_why(event)}"
            return TurnDone(ok=False, worker=self.turn.where, attempt=0, failure="crash",
                            error=why)  # fmt: skip
        return None

    async def _transcript(self, event: HistoryEvent) -> None:
        attrs = event.workflow_execution_signaled_event_attributes
        if attrs.signal_name != TRANSCRIPT_SIGNAL:
            return
        [batch] = await self.converter.decode(attrs.input.payloads, [TranscriptBatch])
        assert isinstance(batch, TranscriptBatch)
        self.turn.where = batch.worker or self.turn.where
        for at, kind, body in batch.entries:
            self.seen += 1
            _note(self.turn.seen, str(kind), str(body))
            if self.seen > self.stored:
                self.write(float(at), str(kind), str(body))


def _note(seen: Seen, kind: str, body: str) -> None:
    """Keep the session and usage a transcript entry reports (for kills and the faces)."""
    if kind not in ("SessionStarted", "UsageReport", "FinalResult"):
        return
    try:
        data = json.loads(body)
    except ValueError:
        return
    if not isinstance(data, dict):
        return
    if data.get("session_id"):
        seen.session_id = str(data["session_id"])
    if kind == "UsageReport" and isinstance(data.get("usage"), dict):
        usage = usage_of(data["usage"])
        if data.get("cumulative"):
            seen.usage, seen.cumulative = usage, True
        elif not seen.cumulative:
            seen.usage = seen.usage + usage


def _why(event: HistoryEvent) -> str:
    if event.HasField("workflow_execution_failed_event_attributes"):
        return event.workflow_execution_failed_event_attributes.failure.message
    if event.HasField("workflow_execution_terminated_event_attributes"):
        return event.workflow_execution_terminated_event_attributes.reason
    return "no reason given"
