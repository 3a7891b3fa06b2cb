"""An asyncio event loop whose clock a test moves forward: timeouts without waiting.

asyncio's timers (`asyncio.timeout`, `wait_for`, `sleep`, `call_later`) all read the
loop's `time()`. `SkippingLoop.time()` is the real monotonic clock plus an offset the
test raises with `skip(seconds)`, so a test gives the code under test an hour-long
timeout, waits for the event it cares about (the build printed, the agent went silent),
then skips the hour: the timeout fires at once, and never early because the machine was
slow. Call `skip` from a coroutine on the loop, so the loop is not asleep in `select`
with the old deadline.

    async def scenario(loop: SkippingLoop) -> None:
        task = asyncio.create_task(code_with_a_timeout(3600))
        await something_happened.wait()
        loop.skip(3600)
        await task

    run_skipping(scenario)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class SkippingLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        super().__init__()
        self.skipped = 0.0

    def time(self) -> float:
        return super().time() + self.skipped

    def skip(self, seconds: float) -> None:
        """Move the clock `seconds` forward: timers due by then fire on the next turn."""
        self.skipped += seconds


def run_skipping(main: Callable[[SkippingLoop], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run(main(loop))` on a SkippingLoop."""
    with asyncio.Runner(loop_factory=SkippingLoop) as runner:
        loop = runner.get_loop()
        assert isinstance(loop, SkippingLoop)
        return runner.run(main(loop))
