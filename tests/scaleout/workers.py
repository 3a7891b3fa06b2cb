"""`plait worker` processes for end-to-end tests, and what they did.

with Workers.start(tmp, server, queue, ["wa", "wb"], env=env) as workers:
    ... plait run … --executor temporal://ADDR/QUEUE …
    workers["wa"].starts()      # the agent processes wa started (script agent log)
    workers["wa"].kill()        # SIGKILL, as a crashed machine
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plait import processes
from plait.testing.temporal import TemporalDevServer

READY = 60.0  # seconds a worker may take to connect and start polling


@dataclass
class WorkerProcess:
    name: str
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def starts(self) -> list[dict[str, Any]]:
        """The agent processes this worker started (the script agent logs each start)."""
        lines: list[dict[str, Any]] = []
        for path in sorted(self.root.glob("repos/*/plait-script-starts.jsonl")):
            lines += [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        return lines

    def tasks(self) -> list[str]:
        return [str(s["task"]) for s in self.starts()]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Workers(dict[str, WorkerProcess]):
    @classmethod
    @contextlib.contextmanager
    def start(
        cls,
        tmp: Path,
        server: TemporalDevServer,
        queue: str,
        names: Sequence[str],
        *,
        env: Mapping[str, str],
        agents: str = "script",
        slots: int = 2,
    ) -> Iterator[Workers]:
        workers = cls()
        try:
            for name in names:
                workers[name] = _spawn(tmp, server, queue, name, env, agents, slots)
            for worker in workers.values():
                _wait_ready(worker)
            yield workers
        finally:
            for worker in workers.values():
                worker.stop()
            # A worker killed on purpose leaves its agent running: stop it too.
            for worker in workers.values():
                processes.stop_under(str(worker.root))


def _spawn(
    tmp: Path,
    server: TemporalDevServer,
    queue: str,
    name: str,
    env: Mapping[str, str],
    agents: str,
    slots: int,
) -> WorkerProcess:
    root = tmp / "workers" / name
    log = tmp / f"worker-{name}.log"
    argv = [
        sys.executable, "-m", "plait.cli", "worker", "--temporal", server.address,
        "--queue", queue, "--agents", agents, "--slots", str(slots), "--name", name,
        "--dir", str(root),
    ]  # fmt: skip
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    return WorkerProcess(name=name, root=root, proc=proc, log=log)


def _wait_ready(worker: WorkerProcess) -> None:
    deadline = time.monotonic() + READY
    while time.monotonic() < deadline:
        text = worker.log.read_text(errors="replace") if worker.log.exists() else ""
        if f"plait worker {worker.name}:" in text:
            return
        if worker.proc.poll() is not None:
            raise AssertionError(f"worker {worker.name} exited: {text}")
        time.sleep(0.1)
    raise AssertionError(f"worker {worker.name} did not start: {worker.log.read_text()}")
