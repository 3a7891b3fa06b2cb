"""An agent printing lines that are not its stream, on a worker: the transcript keeps the
first GARBAGE_KEPT and one Warning, as a local turn's does."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from plait.engine.executors import GARBAGE_KEPT
from plait.testing.gitrepo import isolated_home_env
from plait.testing.temporal import TemporalDevServer
from tests.scaleout.harness import Harness, finished

pytestmark = pytest.mark.timeout(120)

NOISE = GARBAGE_KEPT + 150
SCRIPT = {"tasks": {"noisy": {"start": [{"say": "done", "actions": []}]}}}


@pytest.fixture(autouse=True)
def _git_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)


def _noisy_python(tmp_path: Path) -> str:
    """A `python` for the script agent that first prints NOISE lines of chatter."""
    path = tmp_path / "noisy-python"
    path.write_text(f'#!/bin/sh\nseq {NOISE} | sed "s/^/chatter /"\nexec {sys.executable} "$@"\n')
    path.chmod(0o755)
    return str(path)


def test_a_worker_keeps_at_most_garbage_kept_noise_lines_and_says_how_many_more(
    tmp_path: Path, temporal: TemporalDevServer, queue: str
) -> None:
    async def scenario() -> None:
        backends = {"script": {"python": _noisy_python(tmp_path)}}
        async with Harness.start(tmp_path, temporal, queue, SCRIPT, backends=backends) as h:
            effect = await h.turn_effect("noisy")
            done = finished(await h.executor.run(effect))
            assert done.ok, done.error
            kinds = h.rows.kinds(effect.id)
            assert kinds.count("Garbage") == GARBAGE_KEPT
            warnings = [json.loads(r[4])["text"] for r in h.rows.rows if r[3] == "Warning"]
            assert warnings == [
                f"{NOISE - GARBAGE_KEPT} more lines that were not the agent's stream"
            ]

    asyncio.run(scenario())
