"""The run's tasks as a persistent mapping that also knows which tasks can move.

How this works. `TaskMap` is an immutable `Mapping[str, TaskState]` in plan order. An
update does not copy all n tasks: the new map shares a base dict with the old one and
carries its own small overlay of changed tasks; when the overlay grows past about √n the
two are folded into a fresh base (amortized O(√n) per update, O(1) lookups). Equality is
mapping equality, so a `TaskMap` equals the plain dict the codec decodes it to.

It also keeps two derived indexes, each a pure function of the tasks and the plan shape
(`TaskMap.build` recomputes them from scratch; updates maintain them for the tasks that
changed and, when a task lands, its dependents):

- `live`: tasks the scheduler must look at — active, or holding an op, an effect under
  way, a queue, a retry or merge timer, or a worktree still to clean up. Every other task
  is waiting on its dependencies or finished for good.
- `startable`: waiting tasks that `graph.readiness` finds ready. Readiness reads only a
  task's dependencies, so it is looked at again when a dependency's readiness facts
  change (it lands, its PR becomes review-ready or stops being so).

And what all the tasks have spent (`spent_tokens`, `spent_nanos`: dollars in billionths,
so the running sum is exact and does not depend on the order of updates), for the
project's budget.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from math import isqrt
from typing import TYPE_CHECKING

from plait.core.graph import pr_is_review_ready, readiness
from plait.core.model import Phase, RunState, TaskState
from plait.core.plan import TaskSpec

if TYPE_CHECKING:  # mypy checks each field's type through its dataclasses plugin
    from dataclasses import replace
else:  # the same copy, about twice as fast (P2)
    from plait.core.copying import replace


@dataclass(frozen=True, slots=True, eq=False)
class Shape:
    """The static plan facts the indexes need, built once per run (or once after a load)."""

    specs: Mapping[str, TaskSpec]  # the run's own object: identity says it still fits
    order: tuple[str, ...]
    start_order: tuple[str, ...]
    stacked: bool
    position: Mapping[str, int]  # plan order
    start_position: Mapping[str, int]
    dependents: Mapping[str, tuple[str, ...]]  # in plan order, each once

    @staticmethod
    def of(state: RunState) -> Shape:
        dependents: dict[str, list[str]] = {tid: [] for tid in state.order}
        for tid in state.order:
            for dep in dict.fromkeys(state.specs[tid].depends_on):
                if dep in dependents:
                    dependents[dep].append(tid)
        return Shape(
            specs=state.specs,
            order=state.order,
            start_order=state.start_order,
            stacked=state.config.stacked,
            position={tid: i for i, tid in enumerate(state.order)},
            start_position={tid: i for i, tid in enumerate(state.start_order)},
            dependents={tid: tuple(ds) for tid, ds in dependents.items()},
        )

    def fits(self, state: RunState) -> bool:
        return (
            self.specs is state.specs
            and self.order is state.order
            and self.start_order is state.start_order
            and self.stacked == state.config.stacked
        )


def is_live(t: TaskState) -> bool:
    return (
        t.phase is Phase.ACTIVE
        or t.current is not None
        or bool(t.in_flight)
        or bool(t.queue)
        or t.ready_since != 0.0
        or t.retry_at != 0.0
        or (t.phase is Phase.MERGED and not t.cleaned and bool(t.worktree))
    )


def _is_startable(tasks: Mapping[str, TaskState], shape: Shape, tid: str) -> bool:
    if tasks[tid].phase is not Phase.WAITING:
        return False
    return readiness(shape.specs[tid], tasks, stacked=shape.stacked).ready


def _as_dependency(t: TaskState) -> tuple[object, ...]:
    """Everything `graph.readiness` reads of a dependency: when this changes, its
    dependents' readiness must be looked at again."""
    return (t.phase, pr_is_review_ready(t), t.stacked_on, t.based_at, t.finished_at)


def nanos(dollars: float) -> int:
    """Dollars as whole billionths: sums of them are exact."""
    return round(dollars * 1e9)


def _with(index: tuple[int, ...], pos: int, member: bool) -> tuple[int, ...]:
    """The sorted tuple `index` with `pos` in it (member) or not."""
    i = bisect_left(index, pos)
    present = i < len(index) and index[i] == pos
    if member == present:
        return index
    if member:
        return (*index[:i], pos, *index[i:])
    return (*index[:i], *index[i + 1 :])


class TaskMap(Mapping[str, TaskState]):
    __slots__ = (
        "_base",
        "_delta",
        "_over",
        "_parent",
        "live",
        "shape",
        "spent_nanos",
        "spent_tokens",
        "startable",
    )

    def __init__(
        self,
        base: dict[str, TaskState],
        over: dict[str, TaskState],
        shape: Shape,
        live: tuple[int, ...],
        startable: tuple[int, ...],
        parent: dict[str, TaskState] | None = None,
        delta: tuple[str, ...] = (),
    ) -> None:
        self._base = base  # never mutated once shared
        self._over = over  # never mutated once shared
        self._parent = parent  # the base `_base` was folded from, if any
        self._delta = delta  # keys that differ between `_parent` and `_base`
        self.shape = shape
        self.live = live  # sorted plan positions
        self.startable = startable  # sorted start-order positions
        self.spent_tokens = 0
        self.spent_nanos = 0

    @staticmethod
    def build(tasks: Mapping[str, TaskState], shape: Shape) -> TaskMap:
        base = {tid: tasks[tid] for tid in shape.order}
        live = tuple(i for i, tid in enumerate(shape.order) if is_live(base[tid]))
        startable = tuple(
            i for i, tid in enumerate(shape.start_order) if _is_startable(base, shape, tid)
        )
        built = TaskMap(base, {}, shape, live, startable)
        built.spent_tokens = sum(t.usage.total_tokens for t in base.values())
        built.spent_nanos = sum(nanos(t.usage.cost_usd) for t in base.values())
        return built

    # ---- Mapping ------------------------------------------------------------------------
    def __getitem__(self, key: str) -> TaskState:
        task = self._over.get(key)
        return self._base[key] if task is None else task

    def __contains__(self, key: object) -> bool:
        return key in self._base

    def __iter__(self) -> Iterator[str]:
        return iter(self._base)

    def __len__(self) -> int:
        return len(self._base)

    def items(self) -> ItemsView[str, TaskState]:
        return _Items(self)

    def values(self) -> ValuesView[TaskState]:
        return _Values(self)

    def _pairs(self) -> Iterator[tuple[str, TaskState]]:
        over = self._over
        if not over:
            return iter(self._base.items())
        return ((k, over.get(k, v)) for k, v in self._base.items())

    def __eq__(self, other: object) -> bool:
        if other is self:
            return True
        if isinstance(other, TaskMap) and other._base is self._base:
            keys = dict.fromkeys((*self._over, *other._over))
            return all(self[k] == other[k] for k in keys)
        if not isinstance(other, Mapping):
            return NotImplemented
        return dict(self._pairs()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TaskMap({dict(self._pairs())!r})"

    # ---- persistent updates ---------------------------------------------------------------
    def updated(self, changes: Mapping[str, TaskState]) -> TaskMap:
        """A new map with `changes` applied (known ids only) and its indexes brought along."""
        changed = [(tid, t) for tid, t in changes.items() if self[tid] is not t]
        if not changed:
            return self
        over = {**self._over, **dict(changed)}
        base, parent, delta = self._base, self._parent, self._delta
        if len(over) > max(32, 2 * isqrt(len(base))):
            parent, delta = base, tuple(over)
            base, over = {**base, **over}, {}
        new = TaskMap(base, over, self.shape, self.live, self.startable, parent, delta)
        new._reindex(self, changed)
        return new

    def _reindex(self, old: TaskMap, changed: Iterable[tuple[str, TaskState]]) -> None:
        shape = self.shape
        live, startable = self.live, self.startable
        tokens, cost = old.spent_tokens, old.spent_nanos
        recheck: dict[str, None] = {}
        for tid, t in changed:
            live = _with(live, shape.position[tid], is_live(t))
            before = old[tid]
            if before.usage is not t.usage:
                tokens += t.usage.total_tokens - before.usage.total_tokens
                cost += nanos(t.usage.cost_usd) - nanos(before.usage.cost_usd)
            if before.phase is not t.phase:
                recheck[tid] = None
            if shape.dependents[tid] and _as_dependency(before) != _as_dependency(t):
                recheck.update(dict.fromkeys(shape.dependents[tid]))
        for tid in recheck:
            member = _is_startable(self, shape, tid)
            startable = _with(startable, shape.start_position[tid], member)
        self.live, self.startable = live, startable
        self.spent_tokens, self.spent_nanos = tokens, cost

    def layers(self) -> tuple[Mapping[str, TaskState], Mapping[str, TaskState]]:
        """The overlay and the base under it (read only): a task is the overlay's, else
        the base's. For a view that reads many tasks without a call per read (P2)."""
        return self._over, self._base

    def pick(self, ids: Iterable[str]) -> dict[str, TaskState]:
        """The tasks of `ids` as a plain dict, in that order (dict reads, no `__getitem__`
        call per id: the scheduler takes its working copies so on every event, P2)."""
        over, base = self._over, self._base
        return {tid: over.get(tid, base[tid]) for tid in ids}

    def live_ids(self) -> list[str]:
        order = self.shape.order
        return [order[i] for i in self.live]

    def startable_ids(self) -> Iterator[str]:
        start_order = self.shape.start_order
        return (start_order[i] for i in self.startable)

    def changed_ids(self, old: Mapping[str, TaskState]) -> list[str]:
        """Ids whose task object differs from `old`'s, without a scan when `old` is an
        ancestor map; a full comparison otherwise."""
        if isinstance(old, TaskMap) and old._base is self._base:
            if old._over.keys() <= self._over.keys():
                # A descendant (the usual case: the store asks once per batch, from its
                # first state to its last; notices per event): its overlay holds every
                # key of the ancestor's.
                theirs, base = old._over, self._base
                return [k for k, t in self._over.items() if theirs.get(k, base[k]) is not t]
            keys = dict.fromkeys((*self._over, *old._over))
        elif isinstance(old, TaskMap) and old._base is self._parent:
            keys = dict.fromkeys((*self._over, *self._delta, *old._over))
        else:
            return [k for k, t in self._pairs() if old.get(k) is not t]
        # The lookups spelled out (dict reads, not `__getitem__` calls): the store asks
        # this for every batch it commits (P2).
        mine, theirs = self._over, old._over
        base, old_base = self._base, old._base
        return [k for k in keys if mine.get(k, base[k]) is not theirs.get(k, old_base[k])]


class _Items(ItemsView[str, TaskState]):
    """Iterates the base dict once instead of looking every key up again."""

    __slots__ = ()
    _mapping: TaskMap

    def __iter__(self) -> Iterator[tuple[str, TaskState]]:
        return self._mapping._pairs()


class _Values(ValuesView[TaskState]):
    __slots__ = ()
    _mapping: TaskMap

    def __iter__(self) -> Iterator[TaskState]:
        return (t for _, t in self._mapping._pairs())


def indexed_tasks(state: RunState) -> TaskMap:
    """The state's tasks as a `TaskMap` fitting its plan (built once after a decode)."""
    tasks = state.tasks
    if isinstance(tasks, TaskMap) and tasks.shape.fits(state):
        return tasks
    return TaskMap.build(tasks, Shape.of(state))


def live_tasks(state: RunState) -> list[TaskState]:
    """The live tasks (see `TaskMap`), in plan order, read from the index without a walk
    of the plan; every task where the state is not indexed for its plan (after a load or
    a decode). Whoever looks only for tasks under way, active or timed looks here: each
    such task is live, so the answer is the same either way."""
    tasks = state.tasks
    if isinstance(tasks, TaskMap) and tasks.shape.fits(state):
        return list(tasks.pick(tasks.live_ids()).values())
    return list(tasks.values())


def put(state: RunState, task: TaskState) -> RunState:
    """The state with `task` replacing the task of the same id."""
    return replace(state, tasks=indexed_tasks(state).updated({task.id: task}))
