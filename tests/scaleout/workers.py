"""`plait worker` processes for end-to-end tests, and what they did.

with Workers.start(tmp, server, queue, ["wa", "wb"], env=env) as workers:
    ... plait run … --executor temporal://ADDR/QUEUE …
    workers["wa"].starts()      # the agent processes wa started (script agent log)
    workers["wa"].kill()        # SIGKILL, as a crashed machine
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from plait import processes
from plait.testing.temporal import TemporalDevServer, WorkerProcess, spawn_worker, wait_ready


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
                workers[name] = spawn_worker(tmp, server, queue, name, env, agents, slots)
            for worker in workers.values():
                wait_ready(worker)
            yield workers
        finally:
            for worker in workers.values():
                worker.stop()
            # A worker killed on purpose leaves its agent running: stop it too.
            for worker in workers.values():
                processes.stop_under(str(worker.root))
