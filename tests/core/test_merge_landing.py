"""Merge landing and the reviewer step in the core (issue 10), through the CoreDriver.

A change lands after a reviewer's verdict, by a sync with main and a merge under a lock,
exactly once; a needs-changes verdict comes back as a fix round with the numbered issues;
"nothing to do" closes a task as skipped; a turn without completion is resumed, nudged,
then given back; the reviewer is a fallback chain on its own backend.
"""

from __future__ import annotations

from dataclasses import replace

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import OpKind, Phase, ReviewConfig, Reviewer, RunConfig
from plait.core.plan import TaskSpec
from plait.core.task import attention_reason, display_status
from plait.testing.core_driver import CoreDriver

CONFIG = RunConfig(project="p", repo="/r", agent="codex")


def _merge(*ids: str, **fields: object) -> list[TaskSpec]:
    return [
        TaskSpec(id=i, title=f"do {i}", landing="merge", **fields)  # type: ignore[arg-type]
        for i in ids
    ]


def _driver(specs: list[TaskSpec], **config: object) -> CoreDriver:
    return CoreDriver(specs, config=replace(CONFIG, **config))  # type: ignore[arg-type]


def test_an_approved_change_is_synced_and_merged_into_main_once() -> None:
    d = _driver(_merge("a"))
    state = d.run()
    t = state.tasks["a"]
    assert t.phase is Phase.MERGED
    assert t.merge_sha == d.world.landed["a"]
    assert d.world.main_merges == {"a": 1}
    kinds = [type(e).__name__ for e in d.decided(fx.Effect, "a")]
    assert kinds == [
        "PrepareWorkspace",
        "RunAgent",
        "RunReviewer",
        "Rebase",
        "MergeToMain",
        "Cleanup",
    ]
    assert not d.decided(fx.Push)
    assert not d.decided(fx.OpenPR)
    [review] = [e for e in t.log if e.kind == "review"]
    assert review.outcome == "approved"
    assert display_status(t, d.config, landing="merge") == "merged"


def test_the_reviewer_gets_the_task_its_acceptance_criteria_and_the_diff_range() -> None:
    d = _driver(_merge("a", description="make it fast", acceptance=("p99 < 10 ms",)))
    d.run(until=lambda s: bool(d.pending(fx.RunReviewer, "a")))
    [review] = d.pending(fx.RunReviewer, "a")
    t = d.st.tasks["a"]
    assert review.agent == "codex"  # no reviewer configured: the project's agent
    assert review.description == "make it fast"
    assert review.acceptance == ("p99 < 10 ms",)
    assert (review.base_sha, review.head_sha) == (t.base_sha, t.head_sha)
    assert review.round == 1
    assert review.feedback == ()
    [turn] = d.decided(fx.RunAgent, "a")
    assert "p99 < 10 ms" in turn.turn.description
    assert "NOTHING TO DO" in turn.turn.description


def test_a_rejected_change_comes_back_with_numbered_issues_in_the_same_session() -> None:
    d = _driver(_merge("a"))
    d.script("a", "RunReviewer", "reject", "ok")
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    _, fix = d.decided(fx.RunAgent, "a")
    assert fix.turn.kind == "changes"
    assert fix.turn.text.startswith("1. a: add a test\n2. a: name it well")
    assert fix.session_id == "session-a"  # the worker's own session, resumed
    _, second = d.decided(fx.RunReviewer, "a")
    assert second.round == 2
    assert second.feedback == ("a: add a test", "a: name it well")
    outcomes = [e.outcome for e in state.tasks["a"].log if e.kind == "review"]
    assert outcomes == ["needs_changes", "approved"]


def test_after_the_last_fix_round_the_task_goes_back_to_the_queue_with_the_notes() -> None:
    d = _driver(_merge("a"), review=ReviewConfig(rounds=1))
    d.script("a", "RunReviewer", "reject", "reject", "ok")
    state = d.run()
    t = state.tasks["a"]
    assert t.phase is Phase.MERGED
    assert t.counters.returns == 1
    assert [e.outcome for e in t.log if e.kind == "review"] == [
        "needs_changes",
        "needs_changes",
        "approved",
    ]
    assert len(d.decided(fx.Discard, "a")) == 1  # the rejected work was dropped
    starts = [e for e in d.decided(fx.RunAgent, "a") if e.turn.kind == "start"]
    assert len(starts) == 2
    assert "A reviewer rejected an earlier attempt" not in starts[0].turn.description
    assert "1. a: add a test" in starts[1].turn.description
    assert d.world.main_merges == {"a": 1}


def test_a_reviewer_that_keeps_refusing_can_leave_the_task_to_a_human() -> None:
    d = _driver(_merge("a"), review=ReviewConfig(rounds=0, exhausted="attention"))
    d.script("a", "RunReviewer", "reject")
    d.run()
    t = d.st.tasks["a"]
    assert "the reviewer asked for changes 1 times" in attention_reason(t, d.config)
    assert not d.decided(fx.MergeToMain)


def test_a_reviewer_out_of_rounds_is_named_once_with_its_last_words() -> None:
    """It read "the reviewer asked for changes 2 times: the reviewer asked for changes (2)"."""
    d = _driver(_merge("a"), review=ReviewConfig(rounds=1, exhausted="attention"))
    d.script("a", "RunReviewer", "reject", "reject")
    d.run()
    reason = attention_reason(d.st.tasks["a"], d.config)
    assert reason == "the reviewer asked for changes 2 times: a: add a test (and 1 more)"


def test_an_unclear_answer_gives_its_reason_when_the_rounds_run_out() -> None:
    d = _driver(_merge("a"), review=ReviewConfig(rounds=0, exhausted="attention"))
    d.run(until=lambda s: bool(d.pending(fx.RunReviewer, "a")))
    [review] = d.pending(fx.RunReviewer, "a")
    why = "the reviewer's answer had no VERDICT line"
    d.feed(ev.Reviewed(at=d.now, effect_id=review.id, task="a", ok=True,
                       issues=("Looks fine to me",), reason=why, agent="codex"))  # fmt: skip
    reason = attention_reason(d.st.tasks["a"], d.config)
    assert reason == f"the reviewer asked for changes 1 times: {why}"


def test_nothing_to_do_closes_the_task_as_skipped_and_its_dependents_go_on() -> None:
    d = _driver([*_merge("a"), *_merge("b", depends_on=("a",))])
    d.script("a", "agent:start", "skip")
    state = d.run()
    a = state.tasks["a"]
    assert a.phase is Phase.MERGED
    assert a.skipped == "nothing needed"
    assert display_status(a, d.config, landing="merge") == "skipped"
    assert not d.decided(fx.RunReviewer, "a")
    assert state.tasks["b"].phase is Phase.MERGED
    assert d.world.main_merges == {"b": 1}
    [cleanup] = d.decided(fx.Cleanup, "a")
    assert not cleanup.keep  # the empty branch goes


def test_a_change_of_ticket_files_only_lands_without_a_reviewer() -> None:
    d = _driver(_merge("a"))
    d.script("a", "agent:start", "tickets")
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    assert not d.decided(fx.RunReviewer)
    [turn] = d.decided(fx.RunAgent, "a")
    assert turn.tickets == "tasks"


def test_a_turn_without_completion_is_resumed_then_nudged_then_given_back() -> None:
    d = _driver(_merge("a"))
    d.script("a", "agent:start", "nochange")
    d.script("a", "agent:nudge", "nochange", "nochange", "nochange", "nochange")
    d.script("a", "agent:wrapup", "nochange")
    state = d.run()
    kinds = [e.turn.kind for e in d.decided(fx.RunAgent, "a")]
    # five turns without completion, the wrap-up nudge, then the claim went back and a
    # fresh attempt finished the task
    assert kinds[:6] == ["start", "nudge", "nudge", "nudge", "nudge", "wrapup"]
    assert kinds[6] == "start"
    sessions = {e.session_id for e in d.decided(fx.RunAgent, "a")[1:6]}
    assert sessions == {"session-a"}  # resumed, not restarted
    t = state.tasks["a"]
    assert t.counters.returns == 1
    assert t.phase is Phase.MERGED


def test_main_moving_under_the_merge_means_sync_again_and_red_ci_means_a_fix() -> None:
    d = _driver(_merge("a"))
    d.script("a", "MergeToMain", "behind", "ci", "ok")
    state = d.run()
    kinds = [type(e).__name__ for e in d.decided(fx.Effect, "a")]
    assert kinds.count("Rebase") == 3  # once, again after "behind", again after the fix
    [ci_turn] = [e for e in d.decided(fx.RunAgent, "a") if e.turn.kind == "ci"]
    assert ci_turn.turn.text == "simulated ci"
    assert len(d.decided(fx.RunReviewer, "a")) == 2  # the CI fix is new code: judged again
    assert state.tasks["a"].phase is Phase.MERGED
    assert d.world.main_merges == {"a": 1}


def test_a_sync_conflict_is_resolved_by_the_worker_and_lands_without_a_new_verdict() -> None:
    d = _driver(_merge("a"))
    d.script("a", "Rebase", "conflict")
    d.run(until=lambda s: bool(d.decided(fx.RunAgent, "a")[1:]))
    op = d.st.tasks["a"].current
    assert op is not None
    assert op.kind is OpKind.CONFLICT
    state = d.run()
    kinds = [e.turn.kind for e in d.decided(fx.RunAgent, "a")]
    assert kinds == ["start", "conflict"]
    assert len(d.decided(fx.RunReviewer, "a")) == 1
    assert state.tasks["a"].phase is Phase.MERGED


def test_the_conflict_turn_is_told_both_sides_logs_and_the_diff_stat() -> None:
    d = _driver(_merge("a"))
    d.run(until=lambda s: bool(d.pending(fx.Rebase, "a")))
    [sync] = d.pending(fx.Rebase, "a")
    d.feed(
        ev.RebaseConflict(
            at=d.now,
            effect_id=sync.id,
            task="a",
            paths=("x.py",),
            onto_sha="f" * 40,
            detail="branch: abc fix\nmain: def other\n x.py | 2 +-",
        )
    )
    [turn] = d.pending(fx.RunAgent, "a")
    assert turn.turn.kind == "conflict"
    assert turn.turn.text.startswith("branch: abc fix")
    assert turn.turn.paths == ("x.py",)


def test_a_reviewer_without_a_verdict_hands_the_round_to_the_next_in_the_chain() -> None:
    chain = (Reviewer(agent="claude", model="opus"), Reviewer(agent="gemini"))
    d = _driver(_merge("a"), review=ReviewConfig(reviewers=chain))
    d.script("a", "RunReviewer", "fail", "ok")
    state = d.run()
    agents = [(e.agent, e.model) for e in d.decided(fx.RunReviewer, "a")]
    assert agents == [("claude", "opus"), ("gemini", "")]
    assert state.tasks["a"].phase is Phase.MERGED


def test_a_reviewer_at_its_limit_is_passed_over_for_the_next_one() -> None:
    chain = (Reviewer(agent="claude"), Reviewer(agent="gemini"))
    d = _driver(_merge("a"), review=ReviewConfig(reviewers=chain))
    d.run(until=lambda s: bool(d.pending(fx.RunReviewer, "a")))
    [first] = d.pending(fx.RunReviewer, "a")
    limited = ev.Reviewed(
        at=d.now, effect_id=first.id, task="a", ok=False, agent="claude", failure="rate_limit"
    )
    d.feed(limited)
    [second] = d.pending(fx.RunReviewer, "a")
    assert second.agent == "gemini"
    assert "claude" in d.st.cooldowns


MOVED_MAIN = "the agent put 1 commit(s) of its own on main (abc); plait put main back at def"


def _failed_for_a_person(d: CoreDriver, runs: type[fx.Effect]) -> None:
    """Nothing runs again, however long it waits; the task says why it failed."""
    d.tick(1000.0)
    assert not d.pending(runs, "a")
    t = d.st.tasks["a"]
    assert display_status(t, d.config, landing="merge") == "failed"
    assert MOVED_MAIN in attention_reason(t, d.config)


def test_a_reviewer_that_moved_main_stops_the_task_for_a_person() -> None:
    """The shell caught the reviewer moving main and put it back (`forbidden`): no other
    reviewer takes the round; the task fails with the reason until `retry`."""
    chain = (Reviewer(agent="claude"), Reviewer(agent="gemini"))
    d = _driver(_merge("a"), review=ReviewConfig(reviewers=chain))
    d.run(until=lambda s: bool(d.pending(fx.RunReviewer, "a")))
    [first] = d.pending(fx.RunReviewer, "a")
    d.feed(ev.Reviewed(at=d.now, effect_id=first.id, task="a", ok=False, agent="claude",
                       failure="forbidden", error=MOVED_MAIN))  # fmt: skip
    _failed_for_a_person(d, fx.RunReviewer)
    d.feed(ev.TaskRetried(at=d.now, task="a"))
    [again] = d.pending(fx.RunReviewer, "a")
    assert again.agent == "gemini"  # the round goes on down the chain


def test_a_reviewer_turn_takes_a_slot_of_the_reviewers_backend() -> None:
    chain = (Reviewer(agent="claude"),)
    d = _driver(
        _merge("a", "b"),
        review=ReviewConfig(reviewers=chain),
        agent_caps={"claude": 1},
        max_concurrency=4,
    )
    most = 0

    def count(event: object, old: object, decision: object) -> None:
        nonlocal most
        most = max(most, len(d.pending(fx.RunReviewer)))

    d.observers.append(count)
    state = d.run()
    assert most == 1  # both changes waited for review; one claude turn at a time
    assert len(d.decided(fx.RunReviewer)) == 2
    assert all(t.phase is Phase.MERGED for t in state.tasks.values())


def test_reviewers_that_never_answer_leave_the_task_to_a_human() -> None:
    d = _driver(_merge("a"))
    d.script("a", "RunReviewer", "fail", "fail", "fail")
    d.run()
    assert "reviewers gave no verdict 3 times" in attention_reason(d.st.tasks["a"], d.config)


def test_a_pr_verdict_nothing_brings_back_is_the_workers_next_turn() -> None:
    # No second GitHub account: the verdict went out for people only. The core has it:
    # the worker's next turn gets its issues, and the PR does not wait forever.
    d = _driver([TaskSpec(id="a", title="do a")], review=ReviewConfig(prs=True))
    d.script("a", "RunReviewer", "reject_unheard", "ok")
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    fix = [e for e in d.decided(fx.RunAgent, "a") if e.turn.kind == "changes"]
    assert len(fix) == 1
    assert "1. a: add a test" in fix[0].turn.text
    assert len(d.decided(fx.RunReviewer, "a")) == 2


def test_a_pr_landing_with_reviews_waits_for_an_approved_verdict_on_its_head() -> None:
    d = _driver([TaskSpec(id="a", title="do a")], review=ReviewConfig(prs=True))
    d.script("a", "RunReviewer", "reject", "ok")
    d.run(until=lambda s: bool(d.decided(fx.RunReviewer, "a")) and not d.outstanding)
    [first] = d.decided(fx.RunReviewer, "a")
    assert first.pr == d.st.tasks["a"].pr.number  # type: ignore[union-attr]
    assert not d.decided(fx.Merge)
    # The verdict is posted on the PR as a review: its thread comes back by the poll.
    d.add_thread("a", "1. a: add a test")
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    reviews = d.decided(fx.RunReviewer, "a")
    assert len(reviews) == 2
    assert reviews[1].head_sha == state.tasks["a"].head_sha


def test_a_worker_that_moved_main_fails_the_task_with_the_reason() -> None:
    """The shell caught a worker turn moving main and put it back (`forbidden`): as for
    plan tasks and missions, the task fails with the reason until `retry` (no resume)."""
    d = _driver(_merge("a"))
    d.run(until=lambda s: bool(d.pending(fx.RunAgent, "a")))
    [turn] = d.pending(fx.RunAgent, "a")
    d.feed(ev.AgentFinished(at=d.now, effect_id=turn.id, task="a", ok=False,
                            failure="forbidden", error=MOVED_MAIN))  # fmt: skip
    _failed_for_a_person(d, fx.RunAgent)
    assert d.st.tasks["a"].resumes == 0
    d.feed(ev.TaskRetried(at=d.now, task="a"))
    assert d.pending(fx.RunAgent, "a")
