"""A simulated world around the pure controller, shared by tests and benchmarks.

How this works. `CoreDriver` feeds events to `plait.core.controller.decide` and keeps what
a real engine, git and forge would keep: the effects decided but not answered yet (the
outbox), results executed but not committed yet (lost on a crash), a tiny git model
(branch tips, worktree heads) and a forge model (one `SimPR` per task: head, CI per head,
review threads, draft, base, mergeable). Tests drive it step by step (`answer`,
`execute`/`deliver`, `poll`, `human`, `crash`); `run()` plays a whole run on a simulated
clock where agent turns, git and forge steps, CI and polls each take time. Everything
random comes from one seeded `random.Random`, so a seed reproduces a run exactly.

The world raises `SimViolation` when the controller asks for something a real world
would punish: merging a red or stacked PR, deleting a branch an open PR is based on,
touching a removed worktree.
"""

from __future__ import annotations

import json
import random
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypedDict, TypeVar

from plait.core import codec
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision, decide
from plait.core.model import (
    CIStatus,
    Phase,
    PRView,
    ReviewThread,
    RunConfig,
    RunState,
    TaskState,
    Usage,
)
from plait.core.plan import TaskSpec
from plait.core.progress import next_wakeup, settled
from plait.core.task import attention_reason

Outcome = Literal["ok", "fail", "fatal", "conflict", "nochange", "session"]
# (event, state before, decision): called after every decided event.
Observer = Callable[[ev.Event, RunState | None, Decision], None]

MAIN_ROOT = "0" * 40
E = TypeVar("E", bound=fx.Effect)


class _Result(TypedDict):
    """The fields every effect result carries."""

    at: float
    effect_id: str
    task: str


class SimViolation(AssertionError):
    """The controller asked the world for something a real repository or forge forbids."""


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


@dataclass(slots=True, kw_only=True)
class SimPR:
    number: int
    task: str
    branch: str
    base: str
    head: str
    draft: bool = True
    state: str = "open"
    threads: list[ReviewThread] = field(default_factory=list)
    mergeable: bool = True
    merge_sha: str = ""
    merges: int = 0  # times the forge really merged it; must end at exactly 1


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
        self.decisions: list[Decision] = []
        self.observers: list[Observer] = []
        self.outstanding: dict[str, fx.Effect] = {}  # the outbox's pending rows
        self.due: dict[str, float] = {}  # effect id → when `run()` completes it
        self.unreported: dict[str, ev.Event] = {}  # executed, result not committed
        self.executed: list[tuple[fx.Effect, Outcome]] = []
        main = self.config.main_branch
        self.tips: dict[str, str] = {main: MAIN_ROOT}  # remote branch tips
        self.deleted: set[str] = set()
        self.worktrees: dict[str, str] = {}  # task → local head
        self.wt_base: dict[str, str] = {}  # task → commit the worktree is based on
        self.removed: set[str] = set()  # removed worktree paths
        self.commits: dict[str, int] = {}
        self.prs: dict[str, SimPR] = {}
        self.ci: dict[str, CIStatus] = {}  # head → CI result
        self.ci_evidence: dict[str, str] = {}
        self.ci_due: dict[str, tuple[float, str]] = {}  # head → (when, task)
        self.needs_rebase: set[str] = set()
        self.scripted: dict[tuple[str, str], deque[Outcome]] = {}
        self.messages: list[tuple[int, ev.HumanMessage]] = []  # (log index, message)
        self._sha = 0
        self._pr_number = 0
        self._thread = 0

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

    def feed(self, event: ev.Event) -> Decision:
        old = self.state
        decision = decide(old, event)
        self.state = decision.state
        self.log.append(event)
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
        return decision

    @property
    def st(self) -> RunState:
        assert self.state is not None, "start() the run first"
        return self.state

    # ---- answering effects -------------------------------------------------------------
    def execute(self, effect_id: str, outcome: Outcome | None = None) -> ev.Event:
        """Do the effect in the world; its result waits in `unreported` until delivered."""
        effect = self.outstanding[effect_id]
        chosen = outcome or self._outcome(effect)
        result = self._apply(effect, chosen)
        self.executed.append((effect, chosen))
        self.unreported[effect_id] = result
        return result

    def deliver(self, effect_id: str) -> Decision:
        return self.feed(self.unreported.pop(effect_id))

    def answer(self, effect_id: str, outcome: Outcome | None = None) -> Decision:
        self.execute(effect_id, outcome)
        return self.deliver(effect_id)

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

    def poll(self, task: str | None = None) -> list[Decision]:
        """Report every changed PR view, like the engine's poller."""
        out: list[Decision] = []
        for tid, t in self.st.tasks.items():
            if task is not None and tid != task:
                continue
            if t.phase is not Phase.ACTIVE or t.pr is None or tid not in self.prs:
                continue
            view = self.view(tid)
            if view.number == t.pr.number and view != t.pr:
                out.append(self.feed(ev.PRChanged(at=self.now, task=tid, pr=view)))
        return out

    def view(self, task: str) -> PRView:
        pr = self.prs[task]
        ci = self.ci.get(pr.head, CIStatus.NONE)
        return PRView(
            number=pr.number,
            state=pr.state,
            draft=pr.draft,
            base=pr.base,
            head_sha=pr.head,
            ci=ci,
            ci_evidence=self.ci_evidence.get(pr.head, "") if ci is CIStatus.FAILED else "",
            mergeable=pr.mergeable if pr.state == "open" else None,
            threads=tuple(pr.threads),
            merge_sha=pr.merge_sha,
            url=f"sim://pr/{pr.number}",
        )

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
        self._thread += 1
        thread = ReviewThread(
            id=f"t{self._thread}", body=body, author="reviewer", path=path or None
        )
        self.prs[task].threads.append(thread)
        return thread.id

    def make_conflicting(self, task: str) -> None:
        """Someone else lands on main in a way that conflicts with the task's PR."""
        main = self.config.main_branch
        self.tips[main] = self._new_sha()
        self.prs[task].mergeable = False
        self.needs_rebase.add(task)

    def merge_on_forge(self, task: str) -> str:
        """A human merges the task's PR on the forge, behind plait's back."""
        pr = self.prs[task]
        if pr.state != "merged":
            self._merge(pr)
        return pr.merge_sha

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
            options += [(t, 1, head) for head, (t, _) in self.ci_due.items()]
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
                self._complete_ci(key, self.ci_due[key][1], None)
            elif what == 2:
                self.tick()
            else:
                last_poll = self.now
                before = self.st.tasks
                self.poll()
                idle_polls = idle_polls + 1 if self.st.tasks == before else 0
        raise Stalled(f"no end after {max_events} steps: {self.describe()}")

    def describe(self) -> str:
        from plait.core.task import display_status

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
    def _new_sha(self) -> str:
        self._sha += 1
        return f"{self._sha:040x}"

    def _duration(self, effect: fx.Effect) -> float:
        t = self.timing
        if isinstance(effect, fx.RunAgent):
            base = t.agent
        elif isinstance(effect, fx.PrepareWorkspace | fx.Rebase | fx.Cleanup):
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
        self.ci_due.pop(head, None)
        if passed is None:
            scripted = self._take_script(task, "ci")
            passed = scripted == "ok" if scripted else self.rng.random() >= self.chaos.ci_fail
        self.ci[head] = CIStatus.PASSED if passed else CIStatus.FAILED
        if not passed:
            self.ci_evidence[head] = f"FAILED tests/test_{task}.py::test_it on {head[:7]}"
        pr = self.prs.get(task)
        reviewed = self.chaos.review and self.rng.random() < self.chaos.review
        if passed and pr is not None and pr.head == head and reviewed:
            self.add_thread(task)

    def _apply(self, effect: fx.Effect, outcome: Outcome) -> ev.Event:
        base = self._result(effect)
        if isinstance(effect, fx.RunAgent):
            return self._agent(effect, outcome)
        if outcome in ("fail", "fatal", "session") or (
            outcome == "conflict" and not isinstance(effect, fx.Rebase)
        ):
            return ev.StepFailed(**base, error="simulated failure", retryable=outcome != "fatal")
        if isinstance(effect, fx.PrepareWorkspace):
            return self._workspace(effect)
        if isinstance(effect, fx.Push):
            return self._push(effect)
        if isinstance(effect, fx.OpenPR):
            return self._open_pr(effect)
        if isinstance(effect, fx.Rebase):
            return self._rebase(effect, outcome)
        if isinstance(effect, fx.Merge):
            return self._merge_effect(effect)
        if isinstance(effect, fx.Cleanup):
            self._cleanup(effect)
        elif isinstance(effect, fx.MarkReady | fx.Retarget | fx.ResolveThreads):
            self._pr_step(effect)
        return ev.StepDone(**base)

    def _result(self, effect: fx.Effect) -> _Result:
        return {"at": self.now, "effect_id": effect.id, "task": effect.task}

    def _tip(self, branch: str) -> str:
        if branch in self.deleted or branch not in self.tips:
            raise SimViolation(f"branch {branch!r} does not exist")
        return self.tips[branch]

    def _live_worktree(self, task: str, path: str) -> None:
        if not path or path in self.removed:
            raise SimViolation(f"{task}: worktree {path!r} does not exist")

    def _workspace(self, e: fx.PrepareWorkspace) -> ev.Event:
        tip = self._tip(e.base_branch)
        path = f"/sim/worktrees/{e.task}"
        if path in self.removed or e.task not in self.worktrees:
            self.removed.discard(path)
            self.worktrees[e.task] = tip
            self.wt_base[e.task] = tip
            self.commits[e.task] = 0
        base = self.wt_base[e.task]
        return ev.WorkspaceReady(at=self.now, effect_id=e.id, task=e.task, path=path, base_sha=base)

    def _agent(self, e: fx.RunAgent, outcome: Outcome) -> ev.Event:
        self._live_worktree(e.task, e.worktree)
        common = self._result(e)
        usage = Usage(input_tokens=1000, output_tokens=200, cost_usd=0.01)
        seconds = self.timing.agent
        if outcome not in ("ok", "nochange"):
            failure = "session" if outcome == "session" else "crash"
            return ev.AgentFinished(
                **common, ok=False, usage=usage, seconds=seconds, failure=failure,
                error=f"simulated {failure}", session_id=e.session_id,
            )  # fmt: skip
        if outcome == "ok":
            if e.turn.kind == "conflict" and e.turn.onto:
                self.wt_base[e.task] = self._tip(e.turn.onto)
                if e.turn.onto == self.config.main_branch:
                    self.needs_rebase.discard(e.task)
            self.worktrees[e.task] = self._new_sha()
            self.commits[e.task] = self.commits.get(e.task, 0) + 1
        return ev.AgentFinished(
            **common,
            ok=True,
            session_id=e.session_id or f"session-{e.task}",
            usage=usage,
            seconds=seconds,
            reply=f"{e.turn.kind} done",
            commits_ahead=self.commits.get(e.task, 0),
            head_sha=self.worktrees[e.task],
        )

    def _push(self, e: fx.Push) -> ev.Event:
        self._live_worktree(e.task, e.worktree)
        head = self.worktrees[e.task]
        self.tips[e.branch] = head
        self.deleted.discard(e.branch)
        if head not in self.ci:
            self.ci[head] = CIStatus.PENDING
            self.ci_due[head] = (self.now + self.timing.ci, e.task)
        pr = self.prs.get(e.task)
        if pr is not None and pr.state == "open":
            pr.head = head
            if e.task not in self.needs_rebase:
                pr.mergeable = True
        return ev.Pushed(at=self.now, effect_id=e.id, task=e.task, head_sha=head)

    def _open_pr(self, e: fx.OpenPR) -> ev.Event:
        self._tip(e.base)
        pr = self.prs.get(e.task)
        if pr is None or pr.state != "open" or pr.branch != e.branch:
            self._pr_number += 1
            pr = SimPR(
                number=self._pr_number,
                task=e.task,
                branch=e.branch,
                base=e.base,
                head=self._tip(e.branch),
            )
            self.prs[e.task] = pr
        url = f"sim://pr/{pr.number}"
        return ev.PROpened(at=self.now, effect_id=e.id, task=e.task, number=pr.number, url=url)

    def _pr(self, task: str, number: int) -> SimPR:
        pr = self.prs.get(task)
        if pr is None or pr.number != number:
            raise SimViolation(f"{task}: no PR #{number}")
        return pr

    def _pr_step(self, e: fx.MarkReady | fx.Retarget | fx.ResolveThreads) -> None:
        pr = self._pr(e.task, e.pr)
        if isinstance(e, fx.MarkReady):
            pr.draft = False
        elif isinstance(e, fx.Retarget):
            self._tip(e.base)
            pr.base = e.base
        else:
            pr.threads = [t for t in pr.threads if t.id not in e.thread_ids]

    def _rebase(self, e: fx.Rebase, outcome: Outcome) -> ev.Event:
        self._live_worktree(e.task, e.worktree)
        tip = self._tip(e.onto)
        common = self._result(e)
        if outcome == "conflict":
            return ev.RebaseConflict(**common, paths=(f"src/{e.task}.py",), onto_sha=tip)
        if self.wt_base.get(e.task) != tip:
            self.worktrees[e.task] = self._new_sha()
            self.wt_base[e.task] = tip
        if e.onto == self.config.main_branch:
            self.needs_rebase.discard(e.task)
        return ev.Rebased(**common, head_sha=self.worktrees[e.task], base_sha=tip)

    def _merge_effect(self, e: fx.Merge) -> ev.Event:
        pr = self._pr(e.task, e.pr)
        common = self._result(e)
        if pr.state != "merged":
            if pr.draft or self.ci.get(pr.head) is not CIStatus.PASSED:
                raise SimViolation(f"{e.task}: merge of a draft or red PR #{pr.number}")
            if pr.base != self.config.main_branch:
                raise SimViolation(f"{e.task}: merge of PR #{pr.number} into {pr.base}")
            if pr.threads or not pr.mergeable:
                return ev.StepFailed(**common, error="not mergeable", retryable=True)
            self._merge(pr)
        return ev.Merged(**common, sha=pr.merge_sha)

    def _merge(self, pr: SimPR) -> None:
        sha = self._new_sha()
        self.tips[pr.base] = sha
        pr.state, pr.merge_sha, pr.merges = "merged", sha, pr.merges + 1

    def _cleanup(self, e: fx.Cleanup) -> None:
        for pr in self.prs.values():
            if pr.state == "open" and pr.base == e.branch:
                raise SimViolation(f"{e.task}: deleting {e.branch}, the base of PR #{pr.number}")
        self.removed.add(e.worktree)
        if not e.keep:
            self.deleted.add(e.branch)


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
    "Stalled",
    "Timing",
    "chain",
    "specs_from",
]
