"""A failing forge poll is retried next cycle and said in the log — once a minute, with its
cause, not once per cycle."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path

import pytest

from plait.core.model import PRView
from plait.engine.loop import Engine
from plait.store.sqlite import Store
from plait.testing.core_driver import CoreDriver, specs_from


class _DownForge:
    name = "flaky"

    def __init__(self) -> None:
        self.polls = 0

    async def poll(self, prs: Mapping[str, int]) -> dict[str, PRView]:
        self.polls += 1
        raise ConnectionError("forge unreachable (connection refused)")

    def suggested_poll_interval(self, base: float) -> float:
        return base


def test_poll_errors_are_logged_with_their_cause_once_a_minute(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.run(until=lambda s: s.tasks["a"].pr is not None)
    forge = _DownForge()
    store = Store(tmp_path / "plait.db")
    engine = Engine(store=store, forge=forge, executors=None)  # type: ignore[arg-type]
    engine.state = d.st
    with caplog.at_level(logging.WARNING, logger="plait.engine.loop"):
        for _ in range(5):
            asyncio.run(engine._poll_once())
    store.close()
    assert forge.polls == 5
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "connection refused" in warnings[0].getMessage()
    assert "flaky forge" in warnings[0].getMessage()
