"""The store's WAL checkpoints, run beside the engine instead of inside its commits (P2).

Why. In WAL mode a commit appends the pages it changed to the write-ahead log; now and
then the log is copied back into the database file (a checkpoint: the copy and two
fsyncs). SQLite runs it by itself inside the COMMIT that takes the log past 1,000 pages,
so every thirty-odd transactions of the engine one COMMIT took milliseconds to tens of
milliseconds instead of ~0.1 (on a loaded disk, half of all the time spent in COMMIT
went to 2 % of them), and the engine waited, deciding nothing meanwhile.

How. The engine's store turns that off (`PRAGMA wal_autocheckpoint=0`) and a thread of
its own, with a connection of its own, runs a PASSIVE checkpoint once the store's
connection has changed `EVERY` rows since the last one (asked after each of its writes:
the engine's transactions and the agents' transcript lines alike), about the pages
SQLite's default waits for. A PASSIVE checkpoint copies what is committed without taking
the writer's lock, so commits go on meanwhile; SQLite runs it in C with the GIL
released. Nothing about durability changes: a commit is in the log when COMMIT returns,
as before, and a crash before or during a checkpoint leaves the log to be copied at the
next open, as SQLite always does.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import weakref
from urllib.request import pathname2url

log = logging.getLogger(__name__)

# Rows changed between two checkpoints: an engine transaction changes ~50 rows on ~26
# pages, a transcript line one row on one or two, so about SQLite's own default of
# 1,000 pages.
EVERY = 1000


class Checkpointer:
    """Checkpoints a store's WAL on a thread of its own (see the module's docstring).

    The thread is started once, at the first checkpoint, and woken for each one after
    (waking it does not wait for the thread scheduler, as starting a thread does). It
    holds the checkpointer only while it checkpoints and opens a connection only for
    that, so a store that is never closed leaves no open file behind, and its thread
    ends soon after the store is gone."""

    def __init__(self, path: str, *, every: int = EVERY) -> None:
        self.path = path
        self.every = every
        self.done = 0  # checkpoints run (for tests)
        self._mark = 0  # the writer's changed rows when the last checkpoint began
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._closed = False
        self._thread: threading.Thread | None = None

    def wrote(self, changes: int) -> None:
        """Called after each write with the writer connection's `total_changes`: past
        `every` rows since the last checkpoint began, one begins, unless one still runs
        (then a later write asks again)."""
        if changes - self._mark < self.every or not self._idle.is_set() or self._closed:
            return
        self._mark = changes
        self._idle.clear()
        if self._thread is None:
            self._thread = threading.Thread(
                target=_serve, args=(weakref.ref(self), self._wake), name="plait-checkpoint",
                daemon=True,
            )  # fmt: skip
            self._thread.start()
        self._wake.set()

    def wait(self, timeout: float = 10.0) -> None:
        """Wait for the checkpoint under way, if any (tests)."""
        self._idle.wait(timeout)

    def close(self) -> None:
        """Let the checkpoint under way finish, then end the thread."""
        self.wait()
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)

    def _checkpoint(self) -> None:
        try:
            # Read-write, never create: a store removed meanwhile is not made anew.
            uri = f"file:{pathname2url(self.path)}?mode=rw"
            db = sqlite3.connect(uri, uri=True, timeout=10.0, isolation_level=None)
            try:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.done += 1
            finally:
                db.close()
        except sqlite3.Error as exc:  # tried again after the next writes
            log.warning("checkpointing %s failed (retrying later): %s", self.path, exc)
        finally:
            self._idle.set()


# Seconds the thread waits to be woken before it looks whether its store is gone.
_LOOK_EVERY = 5.0


def _serve(ref: weakref.ref[Checkpointer], wake: threading.Event) -> None:
    """The thread: a checkpoint each time it is woken, until its checkpointer is closed
    or gone (held only while it checkpoints)."""
    while True:
        woken = wake.wait(_LOOK_EVERY)
        checkpointer = ref()
        if checkpointer is None or checkpointer._closed:
            return
        if woken:
            wake.clear()
            checkpointer._checkpoint()
        del checkpointer
