"""The project store: one SQLite file (WAL) holding the event log, state, outbox, transcripts.

How this works. `commit()` handles one decided event in ONE transaction: append the event,
mark the effect it answers as done, write the tasks whose state changed, and insert the
effects just decided into the outbox (`INSERT OR IGNORE` on their stable ids). Effects run
only after that commit. `commit_many()` does the same for several consecutive events in
one transaction (all or none), writing each changed task once. On restart, `load()` gives
back the state and every outbox row still pending, to run again (effects are idempotent
outside). The run's static part
(config, task specs, order) is written once, when the run starts. The engine's store
copies its WAL back into the database file on a thread of its own, not inside a COMMIT
(`checkpoint_apart`, `plait.store.checkpoints`).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import sqlite3
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from operator import add, attrgetter, is_not
from pathlib import Path
from typing import Any, NamedTuple

from plait.core import codec
from plait.core.effects import EFFECT_TYPES, Effect
from plait.core.events import EVENT_TYPES, EffectResult, Event, PRChanged, RunStarted
from plait.core.model import Op, OpKind, Phase, PRView, ReviewThread, RunState, TaskState
from plait.core.taskmap import TaskMap
from plait.errors import ProjectError
from plait.store import timeline
from plait.store.checkpoints import Checkpointer
from plait.store.paths import PRIVATE_FILE, tighten

SCHEMA_VERSION = 6

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
    seq INTEGER PRIMARY KEY, at REAL NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,
    deferred INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS run_static(id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS run_dynamic(
    id INTEGER PRIMARY KEY CHECK (id = 1), now REAL NOT NULL, events INTEGER NOT NULL,
    cooldowns TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS tasks(id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox(
    id TEXT PRIMARY KEY, task TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', created_seq INTEGER NOT NULL, done_seq INTEGER);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(status) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS transcripts(
    id INTEGER PRIMARY KEY, task TEXT NOT NULL, effect_id TEXT NOT NULL, at REAL NOT NULL,
    kind TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS transcripts_task ON transcripts(task, id);
CREATE TABLE IF NOT EXISTS processes(
    effect_id TEXT PRIMARY KEY, pid INTEGER NOT NULL, started TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbox(
    id INTEGER PRIMARY KEY, at REAL NOT NULL, body TEXT NOT NULL, taken INTEGER NOT NULL DEFAULT 0);
"""

# Not the core's state: what the shells keep for a project beside it (see store.memory,
# store.ports, store.schedules). Each table is its own, and SQLite (WAL, busy timeout)
# lets the CLI and an engine write them at once.
_SIDE_TABLES = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS memory USING fts5("
    "body, tags, task UNINDEXED, at UNINDEXED)",
    "CREATE TABLE IF NOT EXISTS ports("
    "port INTEGER PRIMARY KEY, task TEXT NOT NULL, service TEXT NOT NULL, "
    "UNIQUE(task, service))",
    "CREATE TABLE IF NOT EXISTS schedules(name TEXT PRIMARY KEY, body TEXT NOT NULL)",
)


# Statements (or a function of the connection) that take a store from schema N to N + 1,
# keyed by N.
_Migration = tuple[str, ...] | Callable[[sqlite3.Connection], None]
_MIGRATIONS: dict[int, _Migration] = {
    # 2: backend cool-downs are kept across restarts.
    1: ("ALTER TABLE run_dynamic ADD COLUMN cooldowns TEXT NOT NULL DEFAULT '{}'",),
    # 3: the timeline (the human line of each decided event) is kept with the events;
    # events decided before have none.
    2: timeline.DDL,
    # 4: shared memory (full-text), the port registry, schedules.
    3: _SIDE_TABLES,
    # 5: an event decided with its scheduling deferred to the end of its batch says so
    # (`Decided.deferred`); the events before were each followed by the scheduler.
    4: ("ALTER TABLE events ADD COLUMN deferred INTEGER NOT NULL DEFAULT 0",),
    # 6: a timeline line's rowid is made from its event's seq, and the timeline has no
    # index (P2: fewer pages a commit). Task rows written from then on leave out the
    # fields at their default (rows with every field read the same).
    5: timeline.rekey,
}


def _dumps(value: object) -> str:
    """The JSON text of `codec.encode(value)`, byte for byte, built faster: the C encoder
    walks the value and calls back only for dataclasses and non-dict mappings."""
    if _C_ENCODER is None:
        return _ENCODER.encode(value)
    return "".join(_C_ENCODER(value, 0))


_TAGGED = frozenset(t.__name__ for t in (*EVENT_TYPES, *EFFECT_TYPES))


# Per class met by the encoder: how to turn its values into what JSON holds. Found once
# per class rather than asked per value (P2: every event, effect and changed task).
_AS_JSON: dict[type, Callable[[Any], object]] = {}


def _json_default(value: object) -> object:
    cls = type(value)
    try:
        convert = _AS_JSON[cls]
    except KeyError:
        convert = _AS_JSON[cls] = _converter(cls)
    return convert(value)


def _converter(cls: type) -> Callable[[Any], object]:
    if dataclasses.is_dataclass(cls) and not issubclass(cls, type):
        return _dataclass_converter(cls)
    if issubclass(cls, Mapping):
        return lambda value: {str(k): v for k, v in value.items()}
    if issubclass(cls, enum.Enum):
        return lambda value: value.value
    return codec.encode  # raises the codec's own error for what it cannot encode


def _dataclass_converter(cls: type) -> Callable[[Any], object]:
    """A dataclass as the dict of its fields (tagged with its name if an event or an
    effect), its values read in one C call instead of a `getattr` per field."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    if len(names) > 1:
        read: Callable[[Any], tuple[object, ...]] = attrgetter(*names)
    else:
        read = lambda value: tuple(getattr(value, n) for n in names)  # noqa: E731
    if cls.__name__ not in _TAGGED:
        return lambda value: dict(zip(names, read(value), strict=True))
    tag = cls.__name__

    def tagged(value: object) -> object:
        out: dict[str, object] = dict(zip(names, read(value), strict=True))
        out["type"] = tag
        return out

    return tagged


_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, default=_json_default)
# The C encoder `_ENCODER.encode` builds anew for every value (a few microseconds each,
# more than a small event takes to write: P2), made once. Without the circular-reference
# check: frozen values cannot hold themselves.
_CEncoder = Callable[[object, int], list[str]]


def _c_encoder() -> _CEncoder | None:
    """The C encoder, or None where this Python's private `c_make_encoder` is missing,
    takes other arguments or writes other text than `_ENCODER` (it is not public API, so
    it is checked against the public encoder once, at import)."""
    make: Callable[..., _CEncoder] | None = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    sample = {"b": [1, 2.5, None, True, "é\n"], "a": {"z": "x", "c": -3}}
    try:
        encoder = make(
            None, _json_default, json.encoder.encode_basestring_ascii, None, ":", ",",
            True, False, True,
        )  # fmt: skip
        if "".join(encoder(sample, 0)) != _ENCODER.encode(sample):
            return None
    except (TypeError, ValueError):
        return None
    return encoder


_C_ENCODER = _c_encoder()


# ---- a task's row, built from the text of its fields (P2) ---------------------------------
_encode_str: Callable[[str], str] = json.encoder.encode_basestring_ascii


def _fragment(value: object) -> str:
    """The JSON text of one field's value, as `_dumps` writes it."""
    cls = type(value)
    if cls is str:
        return _encode_str(value)  # type: ignore[arg-type]
    if value is None:
        return "null"
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return int.__repr__(value)
    if cls is float and math.isfinite(value):  # type: ignore[arg-type]
        return float.__repr__(value)
    if isinstance(value, str):  # a StrEnum (a phase, an op's kind): the C encoder's text
        return _encode_str(value)
    known = _BATCH_TEXTS.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    text = _written(value)
    _BATCH_TEXTS[id(value)] = (value, text)
    return text


# The text of the composite values (a PR view, a usage, an op) met by `_fragment` in the
# batch being written, by identity: an event's PR view or usage is most often the very
# object its task then holds, so the task's row takes the event's text (P2). The values
# are frozen and held while kept (no id reused); `Store.commit_many` empties it after
# every batch.
_BATCH_TEXTS: dict[int, tuple[object, str]] = {}


# ---- a dataclass's text, built from the text of its fields (P2) -----------------------------
# Per class: a function made once that writes a value of it as `_dumps` does (its fields'
# keys sorted, an event's or an effect's tag, `"type":"Name"`, in its sorted place), one
# `_fragment` per field and one join, without the dict of its fields, the sort of its
# keys and the C encoder's call back per value. None where `_dumps` must write it.
_FIELDWISE: dict[type, Callable[[Any], str] | None] = {}


def _fieldwise(cls: type) -> Callable[[Any], str] | None:
    """The writer of `cls` field by field, or None (not a dataclass, or an event or effect
    class with a field called `type`)."""
    if not dataclasses.is_dataclass(cls) or issubclass(cls, type):
        return None
    names = sorted(f.name for f in dataclasses.fields(cls))
    tagged = cls.__name__ in _TAGGED
    if tagged and "type" in names:
        return None
    # (key text, the field read, or the tag's own text)
    items: list[tuple[str, str | None]] = [(n, f"v.{n}") for n in names]
    if tagged:
        items.insert(bisect_left(names, "type"), ("type", None))
    pieces: list[str] = []
    lead = "{"
    for name, read in items:
        key = lead + _encode_str(name) + ":"
        if read is None:
            lead = ","
            key += _encode_str(cls.__name__)
            pieces.append(repr(key))
            continue
        pieces.append(repr(key))
        pieces.append(f"F({read})")
        lead = ","
    pieces.append(repr("}" if items else "{}"))
    source = f"def write(v):\n    return ''.join(({', '.join(pieces)},))\n"
    scope: dict[str, Any] = {"F": _fragment}
    exec(source, scope)  # noqa: S102 - made from the class's own field names, once
    write: Callable[[Any], str] = scope["write"]
    return write


def _written(value: object) -> str:
    """`_dumps(value)`, field by field where the class allows (`_fieldwise`)."""
    cls = type(value)
    try:
        write = _FIELDWISE[cls]
    except KeyError:
        write = _FIELDWISE[cls] = _fieldwise(cls) if _FIELDWISE_OK else None
    return _dumps(value) if write is None else write(value)


def _tagged_dumps(value: object) -> str:
    """`_dumps(value)` for an event or an effect, byte for byte (every event and effect is
    written once: P2)."""
    return _written(value)


_TASK_NAMES = tuple(sorted(f.name for f in dataclasses.fields(TaskState)))
_TASK_KEYS = tuple(_encode_str(name) + ":" for name in _TASK_NAMES)
_task_values: Callable[[TaskState], tuple[object, ...]] = attrgetter(*_TASK_NAMES)


class _TaskRows:
    """The JSON row of each task: `_dumps(task)` without the fields that hold their
    default (the codec decodes a missing field as its default), re-encoding only the
    fields an event replaced.

    A changed task is written on every batch that touched it (~2 kB of JSON with every
    field, most of a commit's time and ten of its ~26 WAL pages: P2), yet most of its
    fields hold the very objects its previous version held (`replace` copies
    references): its PR view, usage, counters, queue. So the text of each field is kept
    with the value it was made from, per task, and a field whose value is the same object
    keeps its text. The values are frozen, so their text never changes; the values are
    held, so no id is reused while kept. Leaving out the fields at their default halves
    the rows (P2's: ~1,970 -> ~900 bytes at the run's end), so more tasks share a page.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[tuple[object, ...], list[str]]] = {}

    def text(self, task: TaskState) -> str:
        if type(task) is not TaskState or not _FIELDWISE_OK:
            return _dumps(task)
        values = _task_values(task)
        last = self._last.get(task.id)
        if last is None:
            parts = list(map(_part, range(len(values)), values))
        else:
            before, parts = last
            parts = parts.copy()
            for i in compress(range(len(values)), map(is_not, values, before)):
                parts[i] = _part(i, values[i])
        self._last[task.id] = (values, parts)
        return "{" + ",".join(filter(None, parts)) + "}"

    def forget(self) -> None:
        self._last.clear()


def _fieldwise_ok() -> bool:
    """Is a value's text made field by field `_dumps`' text, for every kind of field (a
    task, an event with a PR view in it)?"""
    view = PRView(number=4, head_sha="ab", threads=(ReviewThread(id="r", body="é\n"),))
    sample = TaskState(
        id="t-é", phase=Phase.ACTIVE, stacked_on=None, based_at=1.5, turns=3,
        cleaned=True, exit_code=None, pr=view,
        queue=(Op(kind=OpKind.CI, key="k"),), restarts=(2.0, float("inf")),
    )  # fmt: skip
    event = PRChanged(at=2.5, task="t-é", pr=view)
    try:
        parts = map(add, _TASK_KEYS, map(_fragment, _task_values(sample)))
        return "{" + ",".join(parts) + "}" == _dumps(sample) and _written(event) == _dumps(event)
    finally:
        _BATCH_TEXTS.clear()


_FIELDWISE_OK = True  # while it is checked
_FIELDWISE_OK = _fieldwise_ok()
_FIELDWISE.clear()


def _task_defaults() -> tuple[str, ...]:
    """Per field of a task (in `_TASK_NAMES`' order), the text `_TaskRows` writes for its
    default value, which it leaves out; "" for a field without one (the id: no field's
    text is empty, and comparing two strings is the fast path)."""
    out: list[str] = []
    fields = {f.name: f for f in dataclasses.fields(TaskState)}
    try:
        for key, name in zip(_TASK_KEYS, _TASK_NAMES, strict=True):
            f = fields[name]
            if f.default is not dataclasses.MISSING:
                out.append(key + _fragment(f.default))
            elif f.default_factory is not dataclasses.MISSING:
                out.append(key + _fragment(f.default_factory()))
            else:
                out.append("")
    finally:
        _BATCH_TEXTS.clear()
    return tuple(out)


_TASK_DEFAULTS = _task_defaults()
# Per field, the very object a new task holds there (its default value, or the empty
# tuple a factory gives), else a marker no value is: a field holding it is left out
# without its text being made (a new plan's tasks hold little else: P2's first commit).
_UNSHARED = object()
_TASK_DEFAULT_OBJECTS = tuple(
    _UNSHARED
    if (value := getattr(TaskState(id=""), name)) is not getattr(TaskState(id="-"), name)
    else value
    for name in _TASK_NAMES
)


def _part(i: int, value: object) -> str:
    """The text of a task's field `i` in its row: "" at its default (left out)."""
    if value is _TASK_DEFAULT_OBJECTS[i]:
        return ""
    text = _TASK_KEYS[i] + _fragment(value)
    return "" if text == _TASK_DEFAULTS[i] else text


class Decided(NamedTuple):
    """One decided event as the store records it (see `Store.commit_many`)."""

    event: Event
    old: RunState | None
    new: RunState
    effects: tuple[Effect, ...]
    inbox_id: int | None = None
    lines: tuple[timeline.Line, ...] = ()  # what the timeline says about it
    # Decided with `decide(..., scheduling=False)`: the scheduler ran after a later event
    # of the same batch instead. A replay must decide it the same way.
    deferred: bool = False


@dataclass(slots=True)
class _Outbox:
    """What one batch writes to the outbox: new rows, then status changes in event order."""

    new: list[tuple[str, str, str, str, int]] = field(default_factory=list)
    ended: list[tuple[str, int, str]] = field(default_factory=list)  # (status, seq, id)


def changed_tasks(old: RunState | None, new: RunState) -> list[str]:
    """Ids of the tasks whose state object changed from `old` to `new`.

    The controller's `TaskMap` knows which ids it replaced since an ancestor map, so this
    costs what the event touched, not the plan size; other mappings are compared in full.
    """
    if old is None:
        return list(new.tasks)
    if isinstance(new.tasks, TaskMap):
        return new.tasks.changed_ids(old.tasks)
    return [tid for tid, t in new.tasks.items() if old.tasks.get(tid) is not t]


def _static_changed(old: RunState, new: RunState) -> bool:
    """Did the part of the state written once per change (plan, settings, the swarm's
    workers — they change only when a claim begins or ends) change?"""
    return not (
        old.config is new.config
        and old.specs is new.specs
        and old.order is new.order
        and old.start_order is new.start_order
        and old.contexts is new.contexts
        and old.title is new.title
        and old.context is new.context
        and old.budget is new.budget
        and old.swarm is new.swarm
    )


_NO_TASKS: dict[str, TaskState] = {}


def _layers(
    tasks: Mapping[str, TaskState],
) -> tuple[Mapping[str, TaskState], Mapping[str, TaskState]]:
    """A task map as (overlay, base): a task is the overlay's, else the base's (dict reads
    without a call per task: a `TaskMap`'s own layers)."""
    return tasks.layers() if isinstance(tasks, TaskMap) else (_NO_TASKS, tasks)


class _InFlight:
    """The effect each watched task has in flight, followed step by step through a batch,
    to find the effects a decision dropped without their result (`plait reset --hard`):
    they must not run again after a restart.

    The tasks watched (see `Store.commit_many`): those the batch changed that had an
    effect in flight when it began, and those it decided an effect for. One read per
    watched task and step (the step before left what it saw)."""

    def __init__(self, state: RunState | None, watch: list[str]) -> None:
        self.watch = watch
        self.flying: dict[str, str] = {}
        if state is not None:
            self._see(state)

    def _see(self, state: RunState) -> None:
        over, base = _layers(state.tasks)
        for tid in self.watch:
            task = over.get(tid) or base.get(tid)
            self.flying[tid] = task.in_flight if task is not None else ""

    def dropped(self, step: Decided) -> list[str]:
        """The effects `step` dropped (none for the run's first event)."""
        if step.old is None:
            self._see(step.new)
            return []
        answered = step.event.effect_id if isinstance(step.event, EffectResult) else ""
        over, base = _layers(step.new.tasks)
        flying = self.flying
        out = []
        for tid in self.watch:
            task = over.get(tid) or base.get(tid)
            now = task.in_flight if task is not None else ""
            was = flying.get(tid, "")
            if now != was:
                if was and was != answered:
                    out.append(was)
                flying[tid] = now
        return out


def _in_flight(state: RunState | None, ids: list[str]) -> list[str]:
    """Those of `ids` whose task has an effect in flight in `state`."""
    if state is None:
        return []
    over, base = _layers(state.tasks)
    return [tid for tid in ids if (task := over.get(tid) or base.get(tid)) and task.in_flight]


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    id: int
    task: str
    effect_id: str
    at: float
    kind: str
    body: str


def _create_private(path: str) -> None:
    """Create the database file as 0600 before SQLite does (it would use the umask's
    0644); SQLite gives the WAL and shared-memory files the database file's mode."""
    if path != ":memory:" and not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE))


def _keep_private(path: str) -> None:
    """Tighten the files of a store made before stores were private (its folder is
    `ProjectPaths.make_private`'s)."""
    if path != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            tighten(Path(path + suffix), PRIVATE_FILE)


class Store:
    """A project's SQLite store. One writer (the engine); readers may be other processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._task_rows = _TaskRows()
        self._checkpointer: Checkpointer | None = None
        try:
            _create_private(self.path)
            self.db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=10000")
            self.db.executescript(_SCHEMA)
            for statement in (*timeline.DDL, *_SIDE_TABLES):
                self.db.execute(statement)
            _keep_private(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise ProjectError(
                f"cannot open the project store {self.path}: {exc}",
                hint="check the file's permissions, or remove it to start the project over",
            ) from exc
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif version != str(SCHEMA_VERSION):
            self._migrate(version)

    def _migrate(self, version: str) -> None:
        """Bring an older store up to `SCHEMA_VERSION`, one step at a time."""
        if not version.isdecimal() or int(version) > SCHEMA_VERSION:
            raise ProjectError(
                f"{self.path} has store schema {version}, this plait reads {SCHEMA_VERSION}",
                hint="use the plait version that created the project (or a newer one)",
            )
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for step in range(int(version), SCHEMA_VERSION):
                migration = _MIGRATIONS[step]
                if callable(migration):
                    migration(self.db)
                    continue
                for statement in migration:
                    self.db.execute(statement)
            self.set_meta("schema_version", str(SCHEMA_VERSION))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def checkpoint_apart(self) -> Checkpointer | None:
        """Run the WAL's checkpoints on a thread of their own, not inside this writer's
        commits (the engine's store: `plait.store.checkpoints`)."""
        if self._checkpointer is None and self.path != ":memory:":
            self.db.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = Checkpointer(self.path)
        return self._checkpointer

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        self.db.close()

    # ---- meta ----------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # ---- the one write path --------------------------------------------------------
    def commit(
        self,
        event: Event,
        old: RunState | None,
        new: RunState,
        effects: Sequence[Effect],
        *,
        inbox_id: int | None = None,
        lines: tuple[timeline.Line, ...] = (),
    ) -> int:
        """Record one decided event atomically; returns its sequence number."""
        return self.commit_many([Decided(event, old, new, tuple(effects), inbox_id, lines)])[0]

    def commit_many(self, steps: Sequence[Decided]) -> list[int]:
        """Record consecutive decided events in ONE transaction; their sequence numbers.

        Each step's `old` must be the previous step's `new`. Either all are recorded or
        none; the tasks are written once, as the last state has them.
        """
        if not steps:
            return []
        db = self.db
        # The tasks to write: those the batch replaced, found once from its first state
        # to its last (not per event: P2). And the tasks that may drop an effect in one
        # of its steps: those of the changed with one in flight when the batch began,
        # and those the batch decided an effect for (one decided and dropped within it).
        changed = changed_tasks(steps[0].old, steps[-1].new)
        watch = list(
            dict.fromkeys(_in_flight(steps[0].old, changed))
            | {e.task: None for step in steps for e in step.effects}
        )
        flights = _InFlight(steps[0].old, watch)
        db.execute("BEGIN IMMEDIATE")
        try:
            # The numbers SQLite would give one insert at a time (the next rowid after the
            # largest), given up front so that the events and their timeline lines go in
            # with one statement each: the writer holds the lock, no one else appends.
            first = self.last_seq() + 1
            seqs = list(range(first, first + len(steps)))
            events: list[tuple[int, float, str, str, int]] = []
            lines: list[timeline.Row] = []
            outbox = _Outbox()
            for seq, step in zip(seqs, steps, strict=True):
                event, kind = step.event, type(step.event).__name__
                events.append((seq, event.at, kind, _tagged_dumps(event), int(step.deferred)))
                lines.extend(timeline.rows(seq, event.at, kind, step.lines))
                self._record(seq, step, flights, outbox)
            db.executemany(
                "INSERT INTO events(seq, at, type, body, deferred) VALUES (?, ?, ?, ?, ?)", events
            )
            # The batch's new effects first, then what its events said of effects (done,
            # cancelled) in event order: an effect decided earlier in the batch may be
            # answered later in it, and no event can answer an effect decided after it.
            if outbox.new:
                db.executemany(
                    "INSERT OR IGNORE INTO outbox(id, task, type, body, created_seq) "
                    "VALUES (?, ?, ?, ?, ?)",
                    outbox.new,
                )
            if outbox.ended:
                db.executemany(
                    "UPDATE outbox SET status = ?, done_seq = ? "
                    "WHERE id = ? AND status = 'pending'",
                    outbox.ended,
                )
            timeline.insert(db, lines)
            last = steps[-1].new
            if steps[0].old is not None and _static_changed(steps[0].old, last):
                self._write_static(last)
            db.execute(
                "INSERT OR REPLACE INTO run_dynamic(id, now, events, cooldowns) "
                "VALUES (1, ?, ?, ?)",
                (last.now, last.events, _dumps(last.cooldowns)),
            )
            # In place (an upsert, not a REPLACE: that deletes the row and appends it
            # anew, its index entry with it): fewer pages to write at each COMMIT (P2).
            db.executemany(
                "INSERT INTO tasks(id, body) VALUES (?, ?) "
                "ON CONFLICT(id) DO UPDATE SET body = excluded.body",
                [(tid, self._task_rows.text(last.tasks[tid])) for tid in changed],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            _BATCH_TEXTS.clear()
        if self._checkpointer is not None:
            self._checkpointer.wrote(db.total_changes)
        return seqs

    def _record(self, seq: int, step: Decided, flights: _InFlight, outbox: _Outbox) -> None:
        """The event's answered effect, its inbox row and its new effects (written by
        `commit_many` once per batch, from `outbox`)."""
        event = step.event
        if isinstance(event, EffectResult):
            outbox.ended.append(("done", seq, event.effect_id))
        if step.inbox_id is not None:
            self.db.execute("UPDATE inbox SET taken = ? WHERE id = ?", (seq, step.inbox_id))
        if isinstance(event, RunStarted) or step.old is None:
            self._write_static(step.new)
        if abandoned := flights.dropped(step):
            outbox.ended.extend(("cancelled", seq, effect_id) for effect_id in abandoned)
        if step.effects:
            outbox.new.extend(
                (e.id, e.task, type(e).__name__, _tagged_dumps(e), seq) for e in step.effects
            )

    def _write_static(self, state: RunState) -> None:
        static = replace(state, tasks={}, cooldowns={}, now=0.0, events=0)
        self.db.execute(
            "INSERT OR REPLACE INTO run_static(id, body) VALUES (1, ?)", (_dumps(static),)
        )

    # ---- reading back ----------------------------------------------------------------
    def load(self) -> RunState | None:
        row = self.db.execute("SELECT body FROM run_static WHERE id = 1").fetchone()
        if row is None:
            return None
        static = codec.decode_state(json.loads(row[0]))
        dyn = self.db.execute(
            "SELECT now, events, cooldowns FROM run_dynamic WHERE id = 1"
        ).fetchone()
        tasks: dict[str, TaskState] = {}
        for tid, body in self.db.execute("SELECT id, body FROM tasks"):
            tasks[str(tid)] = codec.decode_typed(TaskState, json.loads(body))
        ordered = {tid: tasks[tid] for tid in static.order}
        cooldowns = codec.decode_cooldowns(json.loads(dyn[2]))
        return replace(
            static, tasks=ordered, now=float(dyn[0]), events=int(dyn[1]), cooldowns=cooldowns
        )

    def pending_effects(self) -> list[Effect]:
        rows = self.db.execute(
            "SELECT body FROM outbox WHERE status = 'pending' ORDER BY created_seq, rowid"
        ).fetchall()
        return [codec.decode_effect(json.loads(r[0])) for r in rows]

    def events(self, *, after: int = 0) -> Iterator[tuple[int, Event]]:
        cur = self.db.execute("SELECT seq, body FROM events WHERE seq > ? ORDER BY seq", (after,))
        for seq, body in cur:
            yield int(seq), codec.decode_event(json.loads(body))

    def decided_events(self, *, after: int = 0) -> Iterator[tuple[int, Event, bool]]:
        """The event log as a replay needs it: each event with whether the scheduler ran
        after it (False: it was deferred to a later event of its batch)."""
        cur = self.db.execute(
            "SELECT seq, body, deferred FROM events WHERE seq > ? ORDER BY seq", (after,)
        )
        for seq, body, deferred in cur:
            yield int(seq), codec.decode_event(json.loads(body)), not deferred

    def last_seq(self) -> int:
        """The sequence number of the newest decided event (0 before the first)."""
        return int(self.db.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0)

    def timeline(
        self, *, after: int = 0, limit: int = 500, task: str | None = None, last: int | None = None
    ) -> dict[str, Any]:
        """A page of the timeline (see `plait.store.timeline.page`)."""
        return timeline.page(self.db, after=after, limit=limit, task=task, last=last)

    def effect_counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {str(s): int(n) for s, n in rows}

    # ---- transcripts -----------------------------------------------------------------
    def add_transcript(self, task: str, effect_id: str, at: float, kind: str, body: str) -> None:
        self.db.execute(
            "INSERT INTO transcripts(task, effect_id, at, kind, body) VALUES (?, ?, ?, ?, ?)",
            (task, effect_id, at, kind, body),
        )
        if self._checkpointer is not None:  # an agent's stream: many lines, few commits
            self._checkpointer.wrote(self.db.total_changes)

    def add_warning(self, task: str, text: str, *, at: float) -> None:
        """A line for the task's transcript from plait itself, not its agent."""
        self.add_transcript(task, "", at, "Warning", json.dumps({"text": text}))

    def transcript(
        self, task: str, *, after: int = 0, limit: int | None = None
    ) -> list[TranscriptEntry]:
        rows = self.db.execute(
            "SELECT id, task, effect_id, at, kind, body FROM transcripts "
            "WHERE task = ? AND id > ? ORDER BY id LIMIT ?",
            (task, after, -1 if limit is None else limit),
        ).fetchall()
        return [TranscriptEntry(int(r[0]), r[1], r[2], float(r[3]), r[4], r[5]) for r in rows]

    # ---- agent process groups, for reaping after a crash --------------------------------
    def add_process(self, effect_id: str, pid: int, started: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO processes(effect_id, pid, started) VALUES (?, ?, ?)",
            (effect_id, pid, started),
        )

    def remove_process(self, effect_id: str) -> None:
        self.db.execute("DELETE FROM processes WHERE effect_id = ?", (effect_id,))

    def processes(self) -> list[tuple[str, int, str]]:
        rows = self.db.execute("SELECT effect_id, pid, started FROM processes").fetchall()
        return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]

    # ---- inbox: events posted by other processes (plait send) -------------------------
    def post(self, event: Event) -> int:
        cur = self.db.execute(
            "INSERT INTO inbox(at, body) VALUES (?, ?)", (event.at, _dumps(event))
        )
        return int(cur.lastrowid or 0)

    def inbox(self) -> list[tuple[int, Event]]:
        rows = self.db.execute("SELECT id, body FROM inbox WHERE taken = 0 ORDER BY id").fetchall()
        return [(int(r[0]), codec.decode_event(json.loads(r[1]))) for r in rows]
