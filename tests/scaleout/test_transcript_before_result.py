"""A worker sends a turn's whole transcript before the turn's result: `plait logs` right
after a turn missed its last lines, sent in a batch that came after the result."""

from __future__ import annotations

import asyncio
from typing import Any

from plait.scaleout.jobs import TRANSCRIPT_SIGNAL, Attempt, TranscriptBatch
from plait.scaleout.turns import _Transcript


class SlowWorkflow:
    """A workflow handle whose signals take a while to arrive, as on a loaded server."""

    def __init__(self) -> None:
        self.arrived: list[TranscriptBatch] = []
        self.sending = asyncio.Event()

    async def signal(self, name: str, batch: Any) -> None:
        assert name == TRANSCRIPT_SIGNAL
        self.sending.set()
        await asyncio.sleep(0.3)
        self.arrived.append(batch)


def test_the_batch_on_its_way_when_the_turn_ends_arrives_and_the_rest_after_it() -> None:
    async def scenario() -> None:
        workflow, attempt = SlowWorkflow(), Attempt(worker="w1")
        stream = _Transcript(workflow, attempt)
        stream.add("ToolCall", "ls")
        await asyncio.wait_for(workflow.sending.wait(), timeout=5)  # its batch is on its way
        stream.add("FinalResult", "done")  # the agent's last line, as the turn ends
        await stream.close()  # then the result is reported
        # The batch on its way was cancelled: only FinalResult was sent, ToolCall lost.
        sent = [entry[1] for batch in workflow.arrived for entry in batch.entries]
        assert sent == ["ToolCall", "FinalResult"]
        assert attempt.sent == 2
        assert stream.task.done()

    asyncio.run(scenario())


def test_a_turn_with_nothing_on_its_way_sends_its_last_entries_at_close() -> None:
    async def scenario() -> None:
        workflow, attempt = SlowWorkflow(), Attempt(worker="w1")
        stream = _Transcript(workflow, attempt)
        stream.add("FinalResult", "done")
        await stream.close()  # before the first periodic flush
        assert [[e[1] for e in b.entries] for b in workflow.arrived] == [["FinalResult"]]
        assert attempt.sent == 1

    asyncio.run(scenario())
