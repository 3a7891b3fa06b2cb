"""The engine's store checkpoints its WAL on a thread of its own (P2 in bench/README.md):
a commit never stops to copy the log back into the database file, and what is committed
reads back the same from a fresh open, checkpointed or not."""

from __future__ import annotations

import os
import random
from pathlib import Path

from bench.common import random_dag

from plait.core import events as ev
from plait.core.controller import Decision
from plait.core.model import RunConfig, RunState
from plait.store import Store
from plait.store.checkpoints import Checkpointer
from plait.testing.core_driver import Chaos, CoreDriver


def _run_into(store: Store) -> RunState:
    """A whole chaotic run, one commit per event: far more than 1,000 WAL pages."""
    specs, _ = random_dag(random.Random(5), 40)
    config = RunConfig(project="cp", repo="/sim/repo", max_concurrency=4)
    d = CoreDriver(specs, config=config, seed=5, chaos=Chaos(ci_fail=0.2, review=0.2))

    def commit(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        store.commit(event, old, decision.state, decision.effects)

    d.observers.append(commit)
    return d.run()


def test_the_writer_leaves_the_checkpoint_to_its_thread(tmp_path: Path) -> None:
    """Failed before: SQLite checkpointed inside the COMMIT that took the log past 1,000
    pages, so the database file grew under the writer's own commits."""
    path = tmp_path / "plait.db"
    store = Store(path)
    checkpointer = store.checkpoint_apart()
    assert checkpointer is not None
    checkpointer.every = 10**9  # no checkpoint at all during the run
    empty = os.path.getsize(path)
    final = _run_into(store)
    assert os.path.getsize(str(path) + "-wal") > 1000 * 4096
    assert os.path.getsize(path) == empty  # nothing copied back by a commit
    # What is committed reads back from the log alone, before any checkpoint.
    other = Store(path)
    assert other.load() == final == store.load()
    other.close()
    checkpointer.every = 1
    store.commit(ev.Tick(at=final.now), final, final, ())
    checkpointer.wait()
    assert checkpointer.done == 1
    assert os.path.getsize(path) > empty
    store.close()
    again = Store(path)
    assert again.load() == final
    again.close()


def test_checkpoints_run_every_thousand_rows_while_the_writer_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    store = Store(path)
    checkpointer = store.checkpoint_apart()
    assert checkpointer is not None
    assert checkpointer.every == 1000
    final = _run_into(store)
    checkpointer.wait()
    assert checkpointer.done >= 2
    # The log is reused once checkpointed: it stays far smaller than all that was written.
    assert os.path.getsize(str(path) + "-wal") < 16 * 1024 * 1024
    store.close()
    again = Store(path)
    assert again.load() == final
    again.close()


def test_a_store_removed_meanwhile_is_not_made_anew(tmp_path: Path) -> None:
    path = tmp_path / "odd #?name.db"
    store = Store(path)
    checkpointer = store.checkpoint_apart()
    assert checkpointer is not None
    checkpointer.every = 1
    d = CoreDriver(*random_dag(random.Random(1), 3)[:1], config=RunConfig(project="cp", repo="/r"))
    start = d.start()
    store.commit(d.log[0], None, start.state, start.effects)
    checkpointer.wait()
    assert checkpointer.done == 1  # its odd name is quoted as it must be
    gone = tmp_path / "gone.db"
    lost = Checkpointer(str(gone), every=1)
    lost.wrote(1)
    lost.wait()
    lost.close()
    assert lost.done == 0
    assert not gone.exists()
    store.close()


def test_an_agents_transcript_lines_alone_are_checkpointed(tmp_path: Path) -> None:
    """Failed before (checkpoints counted the engine's commits only): a long agent turn
    writes many transcript lines and few events, and its lines filled the log unchecked."""
    path = tmp_path / "plait.db"
    store = Store(path)
    checkpointer = store.checkpoint_apart()
    assert checkpointer is not None
    for i in range(2_500):
        store.add_transcript("a", "a/1/agent", float(i), "Text", "x" * 500)
    checkpointer.wait()
    assert checkpointer.done >= 2
    store.close()
