"""P2's commit alone: `Store.commit_many` over the batches of one closed-loop run.

The engine's closed loop (`bench.p2_engine`) is run once with a store that keeps every
batch it is handed (the decided events, their states, effects and timeline lines); then
those batches are committed again, in order, into a fresh store, several times, and
timed: microseconds an event (wall and CPU of this process) and the pages each
transaction appends to the WAL, by table and index (the WAL's frames are counted with
checkpoints off and each frame's page is named from `dbstat`).

    python -m bench.p2_commit [--rounds N]

Not a goal of its own: it isolates the commit's share of P2 (README, "P2").
"""

from __future__ import annotations

import argparse
import random
import statistics
import struct
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from bench.common import random_dag
from bench.p2_engine import closed_loop
from plait.core.model import RunConfig
from plait.store import Store
from plait.store.sqlite import Decided


def record(tasks: int = 200) -> list[list[Decided]]:
    """The batches of one P2 closed-loop run (the same plan and double as P2)."""
    specs, _ = random_dag(random.Random(2), tasks)
    config = RunConfig(project="bench", repo="/sim/repo", max_concurrency=8)
    kept: list[list[Decided]] = []
    closed_loop(specs, config, seed=2, ci_fail=0.1, review=0.1, keep=kept)
    return kept


class Replay(NamedTuple):
    events: int
    transactions: int
    wall: float  # seconds in commit_many
    cpu: float
    frames: int  # WAL frames appended (checkpoints off)
    by_tree: Counter[str]  # frames per table or index


def replay(batches: list[list[Decided]], folder: Path, *, count_pages: bool) -> Replay:
    """Commit the batches into a fresh store; with `count_pages`, no checkpoint runs and
    the WAL's frames are counted (else the engine's own arrangement: `checkpoint_apart`)."""
    path = folder / f"replay-{time.monotonic_ns()}.db"
    store = Store(path)
    if count_pages:
        store.db.execute("PRAGMA wal_autocheckpoint=0")
    else:
        store.checkpoint_apart()
    events = 0
    wall = cpu = 0.0
    for steps in batches:
        w, c = time.perf_counter(), time.process_time()
        store.commit_many(steps)
        wall += time.perf_counter() - w
        cpu += time.process_time() - c
        events += len(steps)
    frames, by_tree = 0, Counter[str]()
    if count_pages:
        names = dict(store.db.execute("SELECT pageno, name FROM dbstat"))
        with open(str(path) + "-wal", "rb") as wal:
            header = wal.read(32)
            size = struct.unpack(">I", header[8:12])[0]
            while frame := wal.read(24 + size):
                if len(frame) < 24 + size:
                    break
                frames += 1
                by_tree[names.get(struct.unpack(">I", frame[:4])[0], "?")] += 1
    store.close()
    return Replay(events, len(batches), wall, cpu, frames, by_tree)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.p2_commit")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    batches = record()
    with tempfile.TemporaryDirectory(prefix="plait-bench-p2commit-") as tmp:
        folder = Path(tmp)
        pages = replay(batches, folder, count_pages=True)
        runs = [replay(batches, folder, count_pages=False) for _ in range(args.rounds)]
    n = pages.events
    wall = statistics.median(r.wall for r in runs) / n * 1e6
    cpu = statistics.median(r.cpu for r in runs) / n * 1e6
    least = min(r.cpu for r in runs) / n * 1e6
    print(
        f"{n} events in {pages.transactions} transactions; commit_many per event: "
        f"median of {args.rounds}: {wall:.1f} us wall, {cpu:.1f} us CPU; least CPU "
        f"{least:.1f} us (CPU runs: {', '.join(f'{r.cpu / n * 1e6:.1f}' for r in runs)})",
        flush=True,
    )
    per = pages.frames / pages.transactions
    print(f"WAL pages per transaction: {per:.1f}")
    for name, frames in pages.by_tree.most_common():
        print(f"  {name:28} {frames / pages.transactions:5.2f}")


if __name__ == "__main__":
    main()
