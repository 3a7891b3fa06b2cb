"""What a worker builds from the options a turn brings: its own secrets, its own home."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plait.agents.base import TurnSpec
from plait.scaleout.jobs import TurnJob
from plait.scaleout.turns import TurnRunner


def _job(**options: Any) -> TurnJob:
    return TurnJob(project="app", project_uid="u1", effect_id="1/2/agent", task="1",
                   agent="codex", turn={}, session_id="", model="", branch="plait/app/1",
                   remote="/repo", start_sha="0" * 40, base_sha="0" * 40, queues=["q@codex"],
                   options=options)  # fmt: skip


def test_a_secret_option_names_a_variable_of_the_workers_environment(tmp_path: Path) -> None:
    # The controller sends `env:VAR`, never the key: each worker has its own.
    runner = TurnRunner(name="w1", root=tmp_path, client=None, agents=("codex",),  # type: ignore[arg-type]
                        env={"WORKER_KEY": "sk-worker-1"})  # fmt: skip
    job = _job(base_url="http://127.0.0.1:9/v1", api_key="env:WORKER_KEY")
    backend = runner._backend(job)
    env = backend.env({"PATH": "/usr/bin"}, TurnSpec(prompt="", workdir=str(tmp_path)))
    assert env["PLAIT_CODEX_API_KEY"] == "sk-worker-1"
    # The provider's files live in the worker's folder for that project.
    assert env["CODEX_HOME"].startswith(str(tmp_path / "agents" / "app-u1" / "codex"))
    assert runner._backend(job) is backend  # built once per project and options
