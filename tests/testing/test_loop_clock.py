"""SkippingLoop: a test moves the event loop's clock; timers due by then fire at once."""

from __future__ import annotations

import asyncio

import pytest

from plait.testing.loop_clock import SkippingLoop, run_skipping


def test_skipping_fires_an_hour_long_timeout_on_the_next_turn() -> None:
    async def scenario(loop: SkippingLoop) -> list[str]:
        seen: list[str] = []

        async def waits_an_hour() -> None:
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(3600):
                    await asyncio.Event().wait()
            seen.append("timed out")

        task = asyncio.create_task(waits_an_hour())
        await asyncio.sleep(0)  # it is waiting now
        seen.append("skip")
        loop.skip(3600)
        await task
        return seen

    assert run_skipping(scenario) == ["skip", "timed out"]


def test_the_clock_moves_by_what_was_skipped_and_keeps_running() -> None:
    async def scenario(loop: SkippingLoop) -> float:
        before = loop.time()
        loop.skip(50.0)
        return loop.time() - before

    assert run_skipping(scenario) >= 50.0
