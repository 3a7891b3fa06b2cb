"""A simulated engine around the pure controller, shared by tests and benchmarks.

How this works. `CoreDriver` feeds events to `plait.core.controller.decide` and keeps what
a real engine keeps: the effects decided but not answered yet (the outbox) and results
executed but not committed yet (lost on a crash). Effects are carried out in a `SimWorld`
(a tiny git and forge, see `plait.testing.core_world`). Tests drive it step by step
(`answer`, `execute`/`deliver`, `poll`, `human`, `crash`); `run()` plays a whole run on a
simulated clock where agent turns, git and forge steps, CI and polls each take time.
Outcomes come from scripts (`script`) or seeded chaos; one `random.Random(seed)` makes a
run reproducible.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from plait.core import codec
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision, decide, decide_batch, decide_each
from plait.core.model import CIStatus, Phase, RunConfig, RunState, TaskState
from plait.core.plan import TaskSpec
from plait.core.progress import next_wakeup, settled
from plait.core.task import attention_reason, display_status
from plait.testing.core_world import Outcome, SimPR, SimViolation, SimWorld

# (event, state before, decision): called after every decided event.
Observer = Callable[[ev.Event, RunState | None, Decision], None]

E = TypeVar("E", bound=fx.Effect)


class Stalled(RuntimeError):
    """Nothing is under way, nothing is due, and yet the run has not settled."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """How long things take on the simulated clock (seconds)."""

    agent: float = 60.0
    git: float = 1.0
    forge: float = 2.0
    ci: float = 30.0
    poll: float = 5.0
    jitter: float = 0.0  # ± fraction applied to every duration


@dataclass(frozen=True, slots=True, kw_only=True)
class Chaos:
    """Probabilities of trouble when no outcome is scripted."""

    agent_fail: float = 0.0
    step_fail: float = 0.0
    conflict: float = 0.0  # a rebase conflicts
    ci_fail: float = 0.0
    review: float = 0.0  # a green PR gets a review thread


class CoreDriver:
    def __init__(
        self,
        specs: Iterable[TaskSpec],
        *,
        config: RunConfig | None = None,
        seed: int = 0,
        timing: Timing | None = None,
        chaos: Chaos | None = None,
        start_at: float = 1000.0,
        title: str = "",
        context: str = "",
    ) -> None:
        self.specs = tuple(specs)
        self.config = config or RunConfig(project="sim", repo="/sim/repo")
        self.rng = random.Random(seed)
        self.timing = timing or Timing()
        self.chaos = chaos or Chaos()
        self.now = start_at
        self.title = title
        self.context = context
        self.state: RunState | None = None
        self.log: list[ev.Event] = []
        # Parallel to `log`: whether the scheduler ran after the event (False: deferred to
        # the end of its batch, `feed_batch`), as the store records it for a replay.
        self.scheduled: list[bool] = []
        self.decisions: list[Decision] = []
        self.observers: list[Observer] = []
        self.outstanding: dict[str, fx.Effect] = {}  # the outbox's pending rows
        self.due: dict[str, float] = {}  # effect id → when `run()` completes it
        self.unreported: dict[str, ev.Event] = {}  # executed, result not committed
        self.executed: list[tuple[fx.Effect, Outcome]] = []
        self.world = SimWorld(
            main=self.config.main_branch, agent_seconds=self.timing.agent, ci_seconds=self.timing.ci
        )
        self.scripted: dict[tuple[str, str], deque[Outcome]] = {}
        self.messages: list[tuple[int, ev.HumanMessage]] = []  # (log index, message)

    # ---- feeding the controller ------------------------------------------------------
    def start(self) -> Decision:
        event = ev.RunStarted(
            at=self.now,
            config=self.config,
            tasks=self.specs,
            title=self.title,
            context=self.context,
        )
        return self.feed(event)

    def feed(self, event: ev.Event, *, scheduling: bool = True) -> Decision:
        old = self.state
        decision = decide(old, event, scheduling=scheduling)
        self._note(event, old, decision)
        return decision

    def feed_batch(self, events: Sequence[ev.Event]) -> list[Decision]:
        """Decide events that arrived together as the engine does
        (`plait.core.controller.decide_batch`: the scheduler once, after the last)."""
        decisions = decide_batch(self.state, events)
        for event, decision in zip(events, decisions, strict=True):
            self._note(event, self.state, decision)
        return decisions

    def _note(self, event: ev.Event, old: RunState | None, decision: Decision) -> None:
        """Keep a decided event: the log, the outbox's pending rows, the observers."""
        self.state = decision.state
        self.log.append(event)
        self.scheduled.append(decision.scheduled)
        self.decisions.append(decision)
        if isinstance(event, ev.EffectResult):
            self.outstanding.pop(event.effect_id, None)
            self.due.pop(event.effect_id, None)
            self.unreported.pop(event.effect_id, None)
        for effect in decision.effects:
            if effect.id not in self.outstanding:
                self.outstanding[effect.id] = effect
                self.due[effect.id] = self.now + self._duration(effect)
        for observe in self.observers:
            observe(event, old, decision)

    def replayed(self) -> RunState | None:
        """The state a fresh controller reaches from the log, each event decided as it was
        (its scheduling deferred or not)."""
        state: RunState | None = None
        for decision in decide_each(None, zip(self.log, self.scheduled, strict=True)):
            state = decision.state
        return state

    @property
    def st(self) -> RunState:
        assert self.state is not None, "start() the run first"
        return self.state

    # ---- answering effects -------------------------------------------------------------
    def execute(self, effect_id: str, outcome: Outcome | None = None) -> ev.Event:
        """Do the effect in the world; its result waits in `unreported` until delivered."""
        effect = self.outstanding[effect_id]
        chosen = outcome or self._outcome(effect)
        result = self.world.apply(effect, chosen, self.now)
        self.executed.append((effect, chosen))
        self.unreported[effect_id] = result
        return result

    def deliver(self, effect_id: str) -> Decision:
        return self.feed(self.unreported.pop(effect_id))

    def answer(self, effect_id: str, outcome: Outcome | None = None) -> Decision:
        self.execute(effect_id, outcome)
        return self.deliver(effect_id)

    def deliver_batch(self, effect_ids: Iterable[str]) -> list[Decision]:
        """Deliver executed results together, as one batch (`feed_batch`)."""
        return self.feed_batch([self.unreported.pop(i) for i in effect_ids])

    def changed_views(self) -> list[ev.PRChanged]:
        """What a poll would report now (every changed PR view), without deciding it."""
        out: list[ev.PRChanged] = []
        for tid, t in self.st.tasks.items():
            if t.phase is not Phase.ACTIVE or t.pr is None or tid not in self.prs:
                continue
            view = self.world.view(tid)
            if view.number == t.pr.number and view != t.pr:
                out.append(ev.PRChanged(at=self.now, task=tid, pr=view))
        return out

    def answer_all(self) -> list[Decision]:
        """Answer everything outstanding (and whatever that decides), successfully."""
        out: list[Decision] = []
        while self.outstanding:
            out.append(self.answer(next(iter(self.outstanding)), "ok"))
        return out

    def pending(self, kind: type[E], task: str | None = None) -> list[E]:
        """Outstanding effects of one kind (and task)."""
        return [
            e
            for e in self.outstanding.values()
            if isinstance(e, kind) and (task is None or e.task == task)
        ]

    def decided(self, kind: type[E], task: str | None = None) -> list[E]:
        """Every effect of one kind (and task) decided so far, in order."""
        return [
            e
            for d in self.decisions
            for e in d.effects
            if isinstance(e, kind) and (task is None or e.task == task)
        ]

    def crash(self, *, roundtrip: bool = True) -> Decision:
        """Lose everything in memory but the state and the outbox, then restart.

        The state goes through the codec like it would through the store; the restarted
        engine re-runs every pending effect and feeds a Tick.
        """
        self.unreported.clear()
        if roundtrip:
            self.state = codec.decode_state(json.loads(json.dumps(codec.encode(self.st))))
        for effect in self.outstanding.values():
            self.due[effect.id] = self.now + self._duration(effect)
        return self.tick()

    # ---- other events -------------------------------------------------------------------
    def tick(self, dt: float = 0.0) -> Decision:
        self.now += dt
        return self.feed(ev.Tick(at=self.now))

    def human(self, task: str, text: str) -> Decision:
        message = ev.HumanMessage(
            at=self.now, task=task, text=text, message_id=f"m{len(self.messages) + 1}"
        )
        self.messages.append((len(self.log), message))
        return self.feed(message)

    def kill(self, task: str) -> Decision:
        return self.feed(ev.TaskKilled(at=self.now, task=task, reason="enough"))

    def retry(self, task: str) -> Decision:
        return self.feed(ev.TaskRetried(at=self.now, task=task))

    def reset(self, task: str, *, hard: bool = False) -> Decision:
        return self.feed(ev.TaskReset(at=self.now, task=task, hard=hard))

    def add(self, specs: Iterable[TaskSpec], *, plan: str = "", context: str = "") -> Decision:
        event = ev.TasksAdded(at=self.now, tasks=tuple(specs), plan=plan, context=context)
        return self.feed(event)

    def poll(self, task: str | None = None) -> list[Decision]:
        """Report every changed PR view, like the engine's poller."""
        changed = self.changed_views()
        return [self.feed(e) for e in changed if task is None or e.task == task]

    # ---- shaping the world ---------------------------------------------------------------
    def script(self, task: str, kind: str, *outcomes: Outcome) -> None:
        """Queue outcomes for the task's next effects of `kind`.

        `kind` is an effect class name ("Push", "Rebase"…), "agent:<turn kind>" for agent
        turns of one kind, or "ci" for the CI result of the task's next heads.
        """
        self.scripted.setdefault((task, kind), deque()).extend(outcomes)

    def finish_ci(self, task: str | None = None, *, passed: bool | None = None) -> None:
        """Complete pending CI on the current head of the task's (or every) PR."""
        for tid, pr in self.prs.items():
            if (task is None or tid == task) and self.ci.get(pr.head) is CIStatus.PENDING:
                self._complete_ci(pr.head, tid, passed)

    def add_thread(self, task: str, body: str = "please rename this", path: str = "") -> str:
        """A reviewer opens a thread on the task's PR; returns its id."""
        return self.world.add_thread(task, body, path)

    def make_conflicting(self, task: str) -> None:
        """Someone else lands on main in a way that conflicts with the task's PR."""
        self.world.make_conflicting(task)

    def merge_on_forge(self, task: str) -> str:
        """A human merges the task's PR on the forge, behind plait's back."""
        return self.world.merge_on_forge(task)

    @property
    def prs(self) -> dict[str, SimPR]:
        return self.world.prs

    @property
    def ci(self) -> dict[str, CIStatus]:
        return self.world.ci

    # ---- the timed run --------------------------------------------------------------------
    def run(
        self,
        *,
        until: Callable[[RunState], bool] | None = None,
        max_events: int = 200_000,
        auto_human: bool = False,
    ) -> RunState:
        """Play the run on the simulated clock until it settles (or `until` holds).

        With `auto_human`, a human answers every task that needs attention ("try again").
        """
        if self.state is None:
            self.start()
        last_poll = self.now
        idle_polls = 0
        for _ in range(max_events):
            for effect_id in list(self.unreported):
                self.deliver(effect_id)
            if until is not None and until(self.st):
                return self.st
            if settled(self.st) and not self.outstanding:
                stuck = [
                    t for t in self.st.order if attention_reason(self.st.tasks[t], self.config)
                ]
                if not (auto_human and stuck):
                    return self.st
                for tid in stuck:
                    self.human(tid, f"{tid}: please try again")
                continue
            options: list[tuple[float, int, str]] = [(t, 0, i) for i, t in self.due.items()]
            options += [(t, 1, head) for head, (t, _) in self.world.ci_due.items()]
            wake = next_wakeup(self.st)
            if wake is not None:
                options.append((wake, 2, ""))
            if len(options) == 0 and idle_polls >= 2:
                raise Stalled(self.describe())
            options.append((last_poll + self.timing.poll, 3, ""))
            when, what, key = min(options)
            self.now = max(self.now, when)
            if what != 3:
                idle_polls = 0
            if what == 0:
                self.answer(key)
            elif what == 1:
                self._complete_ci(key, self.world.ci_due[key][1], None)
            elif what == 2:
                self.tick()
            else:
                last_poll = self.now
                before = self.st.tasks
                self.poll()
                idle_polls = idle_polls + 1 if self.st.tasks == before else 0
        raise Stalled(f"no end after {max_events} steps: {self.describe()}")

    def describe(self) -> str:
        """One line per task: status, step, head, effect in flight and the PR as plait sees it."""

        def one(t: TaskState) -> str:
            pr = t.pr
            view = f" pr={pr.state},{pr.ci.value},draft={pr.draft},base={pr.base}," if pr else ""
            if pr:
                view += (
                    f"mergeable={pr.mergeable},threads={len(pr.threads)},head={pr.head_sha[-4:]}"
                )
            return (
                f"{t.id}={display_status(t, self.config)}/{t.step or '-'}"
                f" head={t.head_sha[-4:]} in_flight={t.in_flight or '-'}{view}"
            )

        return "; ".join(one(t) for t in self.st.tasks.values())

    # ---- internals --------------------------------------------------------------------------
    def _duration(self, effect: fx.Effect) -> float:
        t = self.timing
        if isinstance(effect, fx.RunAgent):
            base = t.agent
        elif isinstance(effect, fx.PrepareWorkspace | fx.Rebase | fx.Cleanup | fx.Discard):
            base = t.git
        else:
            base = t.forge
        if t.jitter:
            base *= self.rng.uniform(1 - t.jitter, 1 + t.jitter)
        return base

    def _take_script(self, task: str, kind: str) -> Outcome | None:
        queue = self.scripted.get((task, kind))
        return queue.popleft() if queue else None

    def _outcome(self, effect: fx.Effect) -> Outcome:
        if isinstance(effect, fx.RunAgent):
            scripted = self._take_script(effect.task, f"agent:{effect.turn.kind}")
            scripted = scripted or self._take_script(effect.task, "RunAgent")
            if scripted:
                return scripted
            return "fail" if self.rng.random() < self.chaos.agent_fail else "ok"
        scripted = self._take_script(effect.task, type(effect).__name__)
        if scripted:
            return scripted
        if isinstance(effect, fx.Rebase) and self.rng.random() < self.chaos.conflict:
            return "conflict"
        return "fail" if self.rng.random() < self.chaos.step_fail else "ok"

    def _complete_ci(self, head: str, task: str, passed: bool | None) -> None:
        if passed is None:
            scripted = self._take_script(task, "ci")
            passed = scripted == "ok" if scripted else self.rng.random() >= self.chaos.ci_fail
        self.world.complete_ci(head, task, passed=passed)
        pr = self.prs.get(task)
        reviewed = self.chaos.review and self.rng.random() < self.chaos.review
        if passed and pr is not None and pr.head == head and reviewed:
            self.add_thread(task)


def chain(n: int, *, prefix: str = "t") -> list[TaskSpec]:
    """n tasks, each depending on the previous one."""
    return [
        TaskSpec(
            id=f"{prefix}{i}", title=f"task {i}", depends_on=(f"{prefix}{i - 1}",) if i else ()
        )
        for i in range(n)
    ]


def specs_from(deps: Mapping[str, Iterable[str]]) -> list[TaskSpec]:
    """Task specs from {id: dependencies}, in mapping order."""
    return [TaskSpec(id=t, title=f"do {t}", depends_on=tuple(d)) for t, d in deps.items()]


__all__ = [
    "Chaos",
    "CoreDriver",
    "Outcome",
    "SimPR",
    "SimViolation",
    "SimWorld",
    "Stalled",
    "Timing",
    "chain",
    "specs_from",
]
