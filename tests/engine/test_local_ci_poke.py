"""A local CI run that finishes makes the engine poll at once: with a poll interval longer
than the test may last, a task still lands (it would wait for the next cycle before)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest

from plait.core import events as ev
from plait.core.model import Phase, RunConfig
from plait.core.plan import TaskSpec
from plait.engine.project import build_engine, create_project
from plait.engine.settings import Settings

NEVER = 3600.0  # seconds: no poll cycle comes round while the test runs


def _repo(path: Path) -> Path:
    path.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "dev"],
        ["config", "user.email", "dev@example.invalid"],
        ["commit", "-q", "--allow-empty", "-m", "start"],
    ):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return path


def test_a_finished_ci_run_is_seen_without_waiting_for_a_poll_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "home"))
    repo = _repo(tmp_path / "repo")
    turn = {"say": "done", "actions": [{"write": "a.txt", "content": "a\n"}, {"commit": "a"}]}
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"tasks": {"a": {"start": [turn]}}}))
    settings = Settings(
        repo=str(repo), script=str(script), ci_command=["true"], poll_interval=NEVER
    )
    project = create_project("poke", settings)
    try:
        engine = build_engine(project)
        config = RunConfig(project="poke", repo=str(repo))
        first = ev.RunStarted(at=time.time(), config=config, tasks=(TaskSpec(id="a", title="a"),))

        async def run() -> Phase:
            # Generous: a loaded machine lands this in seconds; a missed poke never does.
            async with asyncio.timeout(120):
                return (await engine.start(first)).state.tasks["a"].phase

        assert asyncio.run(run()) is Phase.MERGED
    finally:
        project.close()
