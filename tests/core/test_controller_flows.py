"""Whole task lifecycles through `decide`, in the simulated world of `CoreDriver`."""

from __future__ import annotations

import pytest

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import CIStatus, Phase, PRView, ReviewThread, RunConfig, RunState
from plait.core.progress import all_merged, settled
from plait.core.task import attention_reason, display_status
from plait.testing.core_driver import CoreDriver, Outcome, specs_from


def _kinds(d: CoreDriver, task: str) -> list[str]:
    return [type(e).__name__ for e in d.decided(fx.Effect, task)]


def _turns(d: CoreDriver, task: str) -> list[fx.RunAgent]:
    return d.decided(fx.RunAgent, task)


def _has_pr(task: str) -> object:
    return lambda s: s.tasks[task].pr is not None


def _assert_landed_once(d: CoreDriver, state: RunState) -> None:
    assert all_merged(state)
    assert settled(state)
    assert not d.outstanding
    for tid, t in state.tasks.items():
        assert d.prs[tid].merges == 1
        assert t.merge_sha == d.prs[tid].merge_sha
        assert t.cleaned


def test_three_task_plan_lands_every_task() -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"], "c": []}))
    state = d.run()
    _assert_landed_once(d, state)
    lifecycle = ["PrepareWorkspace", "RunAgent", "Push", "OpenPR", "MarkReady", "Merge", "Cleanup"]
    assert _kinds(d, "a") == lifecycle
    assert _kinds(d, "b") == lifecycle
    assert [t.turn.kind for t in _turns(d, "a")] == ["start"]
    # b depends on a: it starts only once a has landed (a never waited review-ready).
    landed_a = next(i for i, e in enumerate(d.log) if isinstance(e, ev.Merged) and e.task == "a")
    start_b = next(
        i for i, dec in enumerate(d.decisions) if any(e.task == "b" for e in dec.effects)
    )
    assert start_b >= landed_a
    assert d.decided(fx.PrepareWorkspace, "b")[0].base_branch == "main"


def test_ci_failure_is_fixed_by_a_ci_turn_then_merged() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.script("a", "ci", "fail")
    state = d.run()
    _assert_landed_once(d, state)
    turns = _turns(d, "a")
    assert [t.turn.kind for t in turns] == ["start", "ci"]
    assert "FAILED tests/test_a.py" in turns[1].turn.text
    pushes = d.decided(fx.Push, "a")
    assert [p.force for p in pushes] == [False, True]
    assert d.ci[d.prs["a"].head] is CIStatus.PASSED


def test_review_threads_get_a_review_turn_then_are_resolved_after_the_push() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.run(until=_has_pr("a"))  # type: ignore[arg-type]
    thread = d.add_thread("a", "rename foo to bar", path="src/a.py")
    state = d.run()
    _assert_landed_once(d, state)
    review = _turns(d, "a")[1]
    assert review.turn.kind == "review"
    assert [t.id for t in review.turn.threads] == [thread]
    assert review.turn.threads[0].path == "src/a.py"
    kinds = _kinds(d, "a")
    after_review = kinds[kinds.index("RunAgent", 2) :]
    assert after_review[:3] == ["RunAgent", "Push", "ResolveThreads"]
    assert d.decided(fx.ResolveThreads, "a")[0].thread_ids == (thread,)
    assert d.prs["a"].threads == []


def test_dependency_landing_rebases_the_stacked_child_onto_main_then_retargets() -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"]}))
    d.script("a", "Merge", "fail")  # a waits review-ready: b may stack on it
    state = d.run()
    _assert_landed_once(d, state)
    branch_a = state.tasks["a"].branch
    assert d.decided(fx.PrepareWorkspace, "b")[0].base_branch == branch_a
    assert d.decided(fx.OpenPR, "b")[0].base == branch_a
    kinds = _kinds(d, "b")
    i = kinds.index("Rebase")
    assert kinds[i : i + 3] == ["Rebase", "Push", "Retarget"]
    assert d.decided(fx.Rebase, "b")[0].onto == "main"
    assert d.decided(fx.Retarget, "b")[0].base == "main"
    assert d.prs["b"].base == "main"
    assert state.tasks["b"].stacked_on is None


def test_stacked_child_follows_new_commits_on_its_base() -> None:
    config = RunConfig(project="sim", repo="/sim", retry_seconds=100.0)
    d = CoreDriver(specs_from({"a": [], "b": ["a"]}), config=config)
    d.script("a", "Merge", "fail")  # a waits review-ready for 100 s
    d.run(until=lambda s: s.tasks["b"].pr is not None)
    assert d.st.tasks["a"].phase is Phase.ACTIVE
    d.add_thread("a", "one more thing")  # a pushes again while b is on top of it
    state = d.run()
    _assert_landed_once(d, state)
    branch_a = state.tasks["a"].branch
    assert [r.onto for r in d.decided(fx.Rebase, "b")] == [branch_a, "main"]


@pytest.mark.parametrize("stacked", [True, False])
def test_rebase_conflict_becomes_a_conflict_turn_with_the_paths(stacked: bool) -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"]}))
    d.script("b", "Rebase", "conflict")
    if stacked:
        d.script("a", "Merge", "fail")
    else:  # main moves under b's open PR
        d.run(until=_has_pr("b"))  # type: ignore[arg-type]
        d.make_conflicting("b")
    state = d.run()
    _assert_landed_once(d, state)
    conflict = [t for t in _turns(d, "b") if t.turn.kind == "conflict"]
    assert len(conflict) == 1
    assert conflict[0].turn.paths == ("src/b.py",)
    assert conflict[0].turn.onto == "main"
    assert d.prs["b"].base == "main"


def test_merged_is_final() -> None:
    d = CoreDriver(specs_from({"a": [], "b": []}))
    state = d.run()
    before = state.tasks["a"]
    old_ids = [e.id for e in d.decided(fx.Effect, "a")]
    thread = ReviewThread(id="late", body="too late")
    late_view = PRView(
        number=before.pr.number if before.pr else 1,
        head_sha="f" * 40,
        ci=CIStatus.FAILED,
        mergeable=False,
        threads=(thread,),
    )
    now = d.now + 1
    events: list[ev.Event] = [
        ev.PRChanged(at=now, task="a", pr=late_view),
        ev.HumanMessage(at=now, task="a", text="one more change", message_id="late"),
        ev.Tick(at=now + 1000),
    ]
    for effect_id in old_ids:
        events += [
            ev.StepFailed(at=now, effect_id=effect_id, task="a", error="late"),
            ev.AgentFinished(at=now, effect_id=effect_id, task="a", ok=True, head_sha="e" * 40),
            ev.Merged(at=now, effect_id=effect_id, task="a", sha="d" * 40),
            ev.Pushed(at=now, effect_id=effect_id, task="a", head_sha="e" * 40),
        ]
    for event in events:
        assert d.feed(event).effects == ()
        assert d.st.tasks["a"] == before
    assert display_status(d.st.tasks["a"], d.config) == "merged"


@pytest.mark.parametrize(
    ("kind", "outcome", "reason"),
    [
        ("agent:start", "fail", "agent failed to start the task 3 times"),
        ("PrepareWorkspace", "fail", "agent failed to start the task 3 times"),
        ("Push", "fail", "push failed 3 times"),
        ("Push", "fatal", "push failed 3 times"),
        ("OpenPR", "fail", "push failed 3 times"),
    ],
)
def test_repeated_failures_need_attention_until_a_human_answers(
    kind: str, outcome: Outcome, reason: str
) -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"]}))
    # A failure that cannot be retried needs a human at once.
    d.script("a", kind, *([outcome] * (1 if outcome == "fatal" else 3)))
    state = d.run()
    assert attention_reason(state.tasks["a"], d.config).startswith(reason)
    assert display_status(state.tasks["a"], d.config) == "needs-attention"
    assert settled(state)
    assert d.tick(10_000).effects == ()  # no retry happens without a human
    decision = d.human("a", "try a smaller change")
    assert decision.effects  # the interrupted step goes again at once
    assert attention_reason(d.st.tasks["a"], d.config) == ""
    state = d.run()
    _assert_landed_once(d, state)
    # The interrupted step's next try carries the message (a failed start or turn goes
    # again with it; a failed git step is followed by a human turn).
    carried = [t for t in _turns(d, "a") if "try a smaller change" in t.turn.note]
    human = [t for t in _turns(d, "a") if t.turn.kind == "human"]
    assert [t.turn.text for t in human] + [t.turn.note for t in carried] == ["try a smaller change"]


def test_ci_failure_cap_then_human_message_clears_it() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.script("a", "ci", "fail", "fail", "fail")
    state = d.run()
    assert attention_reason(state.tasks["a"], d.config).startswith("CI failed 3 times")
    assert [t.turn.kind for t in _turns(d, "a")] == ["start", "ci", "ci"]
    d.human("a", "the flaky test is test_x; skip it")
    state = d.run()
    _assert_landed_once(d, state)
    assert [t.turn.kind for t in _turns(d, "a")][-1] == "human"


def test_turn_failures_need_attention() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.script("a", "ci", "fail")
    d.script("a", "agent:ci", "fail", "session", "fail", "fail")
    state = d.run()
    # A session that cannot resume falls back to a fresh one, with a summary, and that
    # fallback is not counted: three real failures make the task need attention.
    assert attention_reason(state.tasks["a"], d.config).startswith("agent turns failed 3 times")
    after = _turns(d, "a")[-2]
    assert after.session_id == ""
    assert "fresh session" in after.turn.summary


def test_rebase_failures_need_attention() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.run(until=_has_pr("a"))  # type: ignore[arg-type]
    d.make_conflicting("a")
    d.script("a", "Rebase", "fail", "fail", "fail")
    state = d.run()
    assert attention_reason(state.tasks["a"], d.config).startswith("rebase failed 3 times")


def test_failed_turn_is_retried_after_a_backoff() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.start()
    d.answer(d.pending(fx.PrepareWorkspace)[0].id)
    first = d.pending(fx.RunAgent)[0]
    assert d.answer(first.id, "fail").effects == ()
    task = d.st.tasks["a"]
    assert task.retry_at > d.now
    assert d.tick(0.5).effects == ()
    d.now = task.retry_at
    retry = d.tick().effects
    assert [type(e).__name__ for e in retry] == ["RunAgent"]
    assert retry[0].id != first.id


def test_human_message_to_a_waiting_task_is_served_after_its_start() -> None:
    d = CoreDriver(specs_from({"a": [], "b": ["a"]}))
    d.start()
    d.human("b", "use the new API")
    state = d.run()
    _assert_landed_once(d, state)
    assert [t.turn.kind for t in _turns(d, "b")] == ["start", "human"]
    assert state.tasks["b"].phase is Phase.MERGED


def test_landing_on_the_forge_during_a_turn_waits_for_the_turn_before_cleanup() -> None:
    config = RunConfig(project="p", repo="/r", max_concurrency=1, stacked=False)
    d = CoreDriver(specs_from({"a": [], "c": ["a"]}), config=config)
    d.run(until=_has_pr("a"))  # type: ignore[arg-type]
    d.add_thread("a")
    d.poll()
    (turn,) = d.pending(fx.RunAgent, "a")
    assert turn.turn.kind == "review"
    d.merge_on_forge("a")  # a human merges while the agent works
    d.poll()
    assert d.st.tasks["a"].phase is Phase.MERGED
    # The turn still runs: its slot stays taken (c may not start) and a is not cleaned.
    assert list(d.outstanding) == [turn.id]
    assert d.tick(100).effects == ()
    decision = d.answer(turn.id)
    assert [type(e).__name__ for e in decision.effects] == ["Cleanup", "PrepareWorkspace"]
    state = d.run()
    _assert_landed_once(d, state)
    assert [t.turn.kind for t in _turns(d, "a")] == ["start", "review"]


def test_ci_failure_seen_before_the_push_result_still_gets_a_ci_turn() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.run(until=_has_pr("a"))  # type: ignore[arg-type]
    d.add_thread("a")
    d.poll()
    d.answer(d.pending(fx.RunAgent, "a")[0].id)
    (push,) = d.pending(fx.Push, "a")
    d.execute(push.id)  # pushed, but the result is not back yet…
    d.finish_ci("a", passed=False)
    d.poll()  # …when a poll already sees CI fail on the new head
    d.deliver(push.id)
    state = d.run()
    _assert_landed_once(d, state)
    assert [t.turn.kind for t in _turns(d, "a")] == ["start", "review", "ci"]


@pytest.mark.parametrize("kind", ["ci", "conflict"])
def test_a_fix_turn_without_a_commit_is_a_failed_turn_not_a_stall(kind: str) -> None:
    d = CoreDriver(specs_from({"a": []}))
    if kind == "ci":
        d.script("a", "ci", "fail")
    else:
        d.run(until=_has_pr("a"))  # type: ignore[arg-type]
        d.make_conflicting("a")
        d.script("a", "Rebase", "conflict")
    d.script("a", f"agent:{kind}", "nochange", "nochange")
    state = d.run()
    _assert_landed_once(d, state)
    assert [t.turn.kind for t in _turns(d, "a")] == ["start", kind, kind, kind]
    errors = [dec.state.tasks["a"].last_error for dec in d.decisions]
    assert f"the agent finished without committing a {kind} fix" in errors


def test_main_moving_again_during_a_rebase_push_gets_another_rebase() -> None:
    d = CoreDriver(specs_from({"a": []}))
    d.run(until=_has_pr("a"))  # type: ignore[arg-type]
    d.make_conflicting("a")
    d.poll()
    d.answer(d.pending(fx.Rebase, "a")[0].id)
    (push,) = d.pending(fx.Push, "a")
    d.execute(push.id)  # the rebased head is pushed, its result not back yet…
    d.finish_ci("a")  # (CI is done, so the forge's view will not change again)
    d.make_conflicting("a")  # …when main moves again and a poll reports it
    d.poll()
    d.deliver(push.id)
    state = d.run()
    _assert_landed_once(d, state)
    assert len(d.decided(fx.Rebase, "a")) == 2
