"""Hypothesis stateful tests of the controller: the invariants of R5 (bench/README.md).

The machine plays a run in `CoreDriver`'s world, interleaving effect results (success,
failure, conflict), forge polls (CI, review threads, main moving), human messages, clock
ticks and crashes, and checks after every decided event:

- merged is final: a merged task stays merged and only ever gets its cleanup;
- one action per task: never two outstanding effects for one task, never more agent
  slots busy than `max_concurrency`;
- priorities: a task takes the highest-priority op of its queue, and no new task starts
  while an active task waits with feedback for a slot;
- budgets: no agent turn starts for a task over its budget; notifications: every one has
  an id of its own (one per episode, none repeated by a crash).

At the end it lets the run finish (a human answers tasks that need attention) and checks
every task merged exactly once, no human message was lost, and replaying the event log
through a fresh controller reproduces the state exactly. Some steps decide several events
as one batch, as the engine does (the scheduler once, after the last): every check above
holds for them too, and the replay decides each event as it was (deferred or not).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.budget import task_over
from plait.core.controller import Decision
from plait.core.model import (
    AGENT_OPS,
    FEEDBACK_PRIORITY,
    Budget,
    Op,
    OpKind,
    Phase,
    RunConfig,
    RunState,
    TaskState,
)
from plait.core.notices import KINDS
from plait.core.progress import all_merged
from plait.core.task import attention_reason, next_op
from plait.testing.core_driver import CoreDriver, Outcome, specs_from

PLANS = [
    {"a": [], "b": ["a"], "c": [], "d": ["b", "c"]},
    {"a": [], "b": ["a"], "c": ["b"]},
    {"a": [], "b": [], "c": ["a"], "d": ["a"], "e": ["c", "d"]},
]
OUTCOMES: list[Outcome] = ["ok", "ok", "ok", "fail", "conflict", "nochange", "session", "fatal"]


def _same_op(a: Op, b: Op | None) -> bool:
    """The same operation, though a note may have been added to it since."""
    return b is not None and (a.kind, a.key) == (b.kind, b.key)


def _rank(op: Op) -> int:
    return (
        FEEDBACK_PRIORITY.index(op.kind) if op.kind in FEEDBACK_PRIORITY else len(FEEDBACK_PRIORITY)
    )


def _starved(t: TaskState, state: RunState) -> bool:
    """Open work that could take an agent slot for feedback right now but has none."""
    waiting = next_op(t) if t.current is None else None
    return (
        waiting is not None
        and waiting.kind in AGENT_OPS
        and t.phase is Phase.ACTIVE
        and not t.in_flight
        and t.retry_at <= state.now
        and not attention_reason(t, state.config)
        and not task_over(state, t)  # over its budget, no turn of it may start
    )


@dataclass(frozen=True, slots=True)
class Sent:
    index: int  # position of the message in the event log
    message: ev.HumanMessage


class ControllerMachine(RuleBasedStateMachine):
    d: CoreDriver

    @initialize(
        plan=st.sampled_from(PLANS),
        cap=st.integers(1, 3),
        stacked=st.booleans(),
        budget=st.sampled_from([None, 2500, 5000]),
        ahead=st.sampled_from([0, 0, 2]),
    )
    def begin(
        self,
        plan: dict[str, list[str]],
        cap: int,
        stacked: bool,
        budget: int | None,
        ahead: int,
    ) -> None:
        config = RunConfig(
            project="prop",
            repo="/sim",
            max_concurrency=cap,
            stacked=stacked,
            retry_seconds=1.0,
            task_budget=Budget(tokens=budget),
            notify_on=KINDS,
            prepare_ahead=ahead,
        )
        self.d = CoreDriver(specs_from(plan), config=config)
        self.sent: list[Sent] = []
        self.delivered: dict[tuple[str, str], int] = {}  # (task, text) → decision index
        self.merged_at: dict[str, int] = {}
        self.d.observers.append(self._check)
        self.d.start()

    # ---- rules ----------------------------------------------------------------------
    @precondition(lambda self: self.d.outstanding)
    @rule(i=st.integers(0, 99), outcome=st.sampled_from(OUTCOMES))
    def answer(self, i: int, outcome: Outcome) -> None:
        ids = list(self.d.outstanding)
        effect_id = ids[i % len(ids)]
        if effect_id in self.d.unreported:
            self.d.deliver(effect_id)
        else:
            self.d.answer(effect_id, outcome)

    @precondition(lambda self: self.d.outstanding)
    @rule(
        picks=st.lists(
            st.tuples(st.integers(0, 99), st.sampled_from(OUTCOMES)), min_size=1, max_size=6
        ),
        poll=st.booleans(),
        message=st.none() | st.integers(0, 99),
    )
    def answer_together(
        self, picks: list[tuple[int, Outcome]], poll: bool, message: int | None
    ) -> None:
        """Results (a poll's views, a person's message) arrive together and are decided as
        one batch, as the engine decides them: the scheduler runs after the last only."""
        ids: list[str] = []
        for i, outcome in picks:
            left = [e for e in self.d.outstanding if e not in ids]
            if not left:
                break
            effect_id = left[i % len(left)]
            if effect_id not in self.d.unreported:
                self.d.execute(effect_id, outcome)
            ids.append(effect_id)
        batch: list[ev.Event] = [self.d.unreported.pop(e) for e in ids]
        if poll:
            batch += self.d.changed_views()
        if message is not None:
            order = self.d.st.order
            task = order[message % len(order)]
            text = f"message {len(self.sent) + 1} for {task}"
            human = ev.HumanMessage(
                at=self.d.now, task=task, text=text, message_id=f"b{len(self.sent) + 1}"
            )
            batch.append(human)
            if self.d.st.tasks[task].phase is not Phase.MERGED:
                self.sent.append(Sent(len(self.d.log) + len(batch) - 1, human))
        self.d.feed_batch(batch)

    @precondition(lambda self: len(self.d.outstanding) > len(self.d.unreported))
    @rule(i=st.integers(0, 99))
    def execute_without_reporting(self, i: int) -> None:
        """The effect happened outside but its result is not committed yet."""
        ids = [e for e in self.d.outstanding if e not in self.d.unreported]
        self.d.execute(ids[i % len(ids)], "ok")

    @precondition(lambda self: self.d.prs)
    @rule(i=st.integers(0, 99), what=st.sampled_from(["pass", "fail", "thread", "behind", "poll"]))
    def forge_changes(self, i: int, what: str) -> None:
        open_prs = [t for t, pr in self.d.prs.items() if pr.state == "open"]
        if open_prs:
            task = open_prs[i % len(open_prs)]
            if what in ("pass", "fail"):
                self.d.finish_ci(task, passed=what == "pass")
            elif what == "thread":
                self.d.add_thread(task)
            elif what == "behind":
                self.d.make_conflicting(task)
        self.d.poll()

    @precondition(lambda self: any(p.state == "open" for p in self.d.prs.values()))
    @rule(i=st.integers(0, 99))
    def human_merges_on_the_forge(self, i: int) -> None:
        main = self.d.config.main_branch
        ready = [t for t, p in self.d.prs.items() if p.state == "open" and p.base == main]
        if ready:
            self.d.merge_on_forge(ready[i % len(ready)])
            self.d.poll()

    @rule(i=st.integers(0, 99))
    def human_message(self, i: int) -> None:
        order = self.d.st.order
        task = order[i % len(order)]
        self._send(task, f"message {len(self.sent) + 1} for {task}")

    @rule(i=st.integers(0, 99))
    def raise_budget(self, i: int) -> None:
        order = self.d.st.order
        task = order[i % len(order)]
        used = self.d.st.tasks[task].usage.total_tokens
        self.d.feed(ev.BudgetSet(at=self.d.now, task=task, tokens=used + 2500))

    @rule(dt=st.sampled_from([0.5, 1.0, 5.0, 60.0]))
    def tick(self, dt: float) -> None:
        self.d.tick(dt)

    @rule()
    def crash(self) -> None:
        self.d.crash()

    # ---- checks after every decision ------------------------------------------------
    def _send(self, task: str, text: str) -> None:
        merged = self.d.st.tasks[task].phase is Phase.MERGED
        self.d.human(task, text)
        if not merged:
            message = self.d.log[-1]
            assert isinstance(message, ev.HumanMessage)
            self.sent.append(Sent(len(self.d.log) - 1, message))

    def _check(self, event: ev.Event, old: RunState | None, decision: Decision) -> None:
        new = decision.state
        index = len(self.d.decisions) - 1
        for effect in decision.effects:
            if isinstance(effect, fx.RunAgent) and effect.turn.kind == "human":
                self.delivered.setdefault((effect.task, effect.turn.text), index)
            if isinstance(effect, fx.RunAgent):
                # A message that came while a failed turn waited rides on its next try.
                for text in effect.turn.note.split("\n\n"):
                    if text:
                        self.delivered.setdefault((effect.task, text), index)
            if isinstance(effect, fx.RunAgent | fx.PrepareWorkspace):
                assert not task_over(new, new.tasks[effect.task]), effect
        for tid, t in new.tasks.items():
            if t.phase is Phase.MERGED:
                self.merged_at.setdefault(tid, index)
        if old is None:
            return
        self._merged_is_final(old, decision)
        self._one_action_per_task()
        self._priorities(old, decision)

    def _merged_is_final(self, old: RunState, decision: Decision) -> None:
        for tid, before in old.tasks.items():
            if before.phase is not Phase.MERGED:
                continue
            after = decision.state.tasks[tid]
            assert after.phase is Phase.MERGED, tid
            assert after.merge_sha == before.merge_sha, tid
            for effect in decision.effects:
                assert effect.task != tid or isinstance(effect, fx.Cleanup | fx.Notify), effect

    def _one_action_per_task(self) -> None:
        # A notification is no action of its task: it goes out beside them.
        actions = [e for e in self.d.outstanding.values() if not isinstance(e, fx.Notify)]
        per_task = Counter(e.task for e in actions)
        assert max(per_task.values(), default=0) <= 1, per_task
        config = self.d.config
        turns = [e for e in self.d.outstanding.values() if isinstance(e, fx.RunAgent)]
        worktrees = [e for e in self.d.outstanding.values() if isinstance(e, fx.PrepareWorkspace)]
        if config.prepare_ahead:  # worktrees made ahead take no agent slot, in their own room
            assert len(turns) <= config.max_concurrency, turns
            assert len(turns + worktrees) <= config.max_concurrency + config.prepare_ahead
        else:
            assert len(turns + worktrees) <= config.max_concurrency, turns + worktrees

    def _priorities(self, old: RunState, decision: Decision) -> None:
        new = decision.state
        taken = {
            tid: t.current
            for tid, t in new.tasks.items()
            if t.current is not None and not _same_op(t.current, old.tasks[tid].current)
        }
        for tid, op in taken.items():
            if op.kind is not OpKind.START:  # a start precedes whatever waits for the task
                queue = new.tasks[tid].queue
                assert all(_rank(op) <= _rank(q) for q in queue), (tid, op, queue)
        if new.config.prepare_ahead:
            # A start takes its slot at its agent step; the worktree before it takes none.
            starting = any(
                isinstance(e, fx.RunAgent) and e.turn.kind == "start" for e in decision.effects
            )
        else:
            starting = any(op.kind is OpKind.START for op in taken.values())
        if starting:
            for t in new.tasks.values():
                assert not _starved(t, new), f"{t.id} waits with feedback while a task starts"

    @invariant()
    def state_is_consistent(self) -> None:
        if not hasattr(self, "d"):
            return
        for t in self.d.st.tasks.values():
            assert (t.in_flight == "") or t.in_flight in self.d.outstanding, t

    # ---- the end ---------------------------------------------------------------------
    def teardown(self) -> None:
        if not hasattr(self, "d"):
            return
        d = self.d
        d.scripted.clear()
        for task in d.st.order:
            d.feed(ev.BudgetSet(at=d.now, task=task, tokens=0))  # no limit: let it all finish
        state = d.run(auto_human=True, max_events=50_000)
        assert all_merged(state), d.describe()
        assert not d.outstanding
        for tid in state.order:
            assert d.prs[tid].merges == 1, tid
        self._no_message_lost()
        self._replay_reproduces(state)
        ids = [e.id for e in d.decided(fx.Notify)]
        assert len(ids) == len(set(ids)), ids

    def _no_message_lost(self) -> None:
        for sent in self.sent:
            task, text = sent.message.task, sent.message.text
            merged = self.merged_at[task]
            delivered = self.delivered.get((task, text))
            if delivered is not None and sent.index <= delivered <= merged:
                continue
            # Lost only if the task landed first without plait choosing to merge it over
            # the queued message: merged on the forge, or by a Merge already under way.
            assert self._merge_decided_at(task) < sent.index, f"lost {sent.message}"

    def _merge_decided_at(self, task: str) -> int:
        landing = self.d.log[self.merged_at[task]]
        if not isinstance(landing, ev.Merged):
            return -1  # a poll saw it merged on the forge
        for i, decision in enumerate(self.d.decisions):
            if any(e.id == landing.effect_id for e in decision.effects):
                return i
        raise AssertionError(f"no decision emitted {landing.effect_id}")

    def _replay_reproduces(self, state: RunState) -> None:
        # Each event decided as it was: its scheduling deferred to the end of its batch or not.
        assert self.d.replayed() == state


ControllerMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestController = ControllerMachine.TestCase
