"""The risk gate in the core's merge gate, the double-check reviewer and classes by path."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.controller import Decision
from plait.core.model import (
    CIStatus,
    Phase,
    ReviewConfig,
    Reviewer,
    RiskRules,
    RunConfig,
    RunState,
    TaskState,
)
from plait.core.plan import TaskSpec
from plait.core.task import attention_reason, display_status
from plait.core.waiting import waiting_reason
from plait.testing.core_driver import Chaos, CoreDriver, Timing
from plait.testing.core_world import SimPR
from plait.ui.headless import describe

RULES = RiskRules(human=("migrations/**",), double_check=("src/auth/**",))
CONFIG = RunConfig(project="sim", repo="/sim/repo", risk_rules=RULES)


def _driver(ids: str = "a", **config: object) -> CoreDriver:
    specs = [TaskSpec(id=i, title=f"do {i}") for i in ids]
    return CoreDriver(specs, config=replace(CONFIG, **config))  # type: ignore[arg-type]


def _answer_all_but_risk(d: CoreDriver) -> None:
    """Play every effect but the risk assessments, as a fast forge and CI would."""
    while True:
        todo = [e for e in d.outstanding.values() if not isinstance(e, fx.AssessRisk)]
        if not todo:
            return
        d.answer(todo[0].id, "ok")


def test_a_fast_ci_does_not_merge_before_the_risk_is_assessed() -> None:
    d = _driver()
    d.start()
    _answer_all_but_risk(d)
    [assessing] = d.pending(fx.AssessRisk, "a")
    assert assessing.rules == RULES
    assert assessing.head_sha == d.st.tasks["a"].head_sha
    d.finish_ci("a", passed=True)
    d.poll()
    _answer_all_but_risk(d)  # CI green: everything but the risk would allow a merge
    assert not d.decided(fx.Merge)
    assert display_status(d.st.tasks["a"], d.config) == "assessing-risk"
    d.answer(assessing.id, "ok")
    assert d.st.tasks["a"].risk == "low"
    assert d.run().tasks["a"].phase is Phase.MERGED


def test_without_risk_rules_nothing_is_assessed() -> None:
    d = _driver(risk_rules=None)
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    assert not d.decided(fx.AssessRisk)


def test_a_human_tier_is_routed_to_a_persons_merge() -> None:
    d = _driver()
    d.world.risk["a"] = "human"
    state = d.run(until=lambda s: bool(s.tasks["a"].risk) and not d.outstanding)
    d.finish_ci("a", passed=True)
    d.poll()
    d.answer_all()
    state = d.st
    assert state.specs["a"].landing == "watch"
    assert state.tasks["a"].phase is Phase.ACTIVE
    assert not d.decided(fx.Merge)
    assert waiting_reason(state, state.tasks["a"]) == "a person's merge (risk: human)"


def test_double_check_needs_a_second_distinct_reviewers_approval() -> None:
    second = (Reviewer(agent="codex"),)
    d = _driver(
        review=ReviewConfig(prs=True, reviewers=(Reviewer(agent="claude"),)),
        risk_rules=replace(RULES, second=second),
    )
    d.world.risk["a"] = "double-check"
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    reviews = d.decided(fx.RunReviewer, "a")
    assert [r.agent for r in reviews] == ["claude", "codex"]
    assert reviews[0].head_sha == reviews[1].head_sha
    merge = d.decided(fx.Merge, "a")
    assert len(merge) == 1


def test_without_a_double_check_reviewer_the_reviews_second_reviewer_looks() -> None:
    chain = (Reviewer(agent="claude"), Reviewer(agent="pi"))
    d = _driver(review=ReviewConfig(prs=True, reviewers=chain))
    d.world.risk["a"] = "double-check"
    d.run()
    assert [r.agent for r in d.decided(fx.RunReviewer, "a")] == ["claude", "pi"]


def test_the_second_reviewers_changes_go_to_the_fix_lane_then_both_look_again() -> None:
    d = _driver(
        review=ReviewConfig(prs=True), risk_rules=replace(RULES, second=(Reviewer(agent="codex"),))
    )
    d.world.risk["a"] = "double-check"
    d.script("a", "RunReviewer", "ok", "reject")
    d.run(until=lambda s: len(d.decided(fx.RunReviewer, "a")) == 2 and not d.outstanding)
    t = d.st.tasks["a"]
    assert (t.second_verdict, t.verdict) == ("needs_changes", "needs_changes")
    assert not d.decided(fx.Merge)
    # The review was posted on the PR: its thread comes back by the poll, the agent fixes.
    d.add_thread("a", "1. a: check the token")
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    reviews = d.decided(fx.RunReviewer, "a")
    assert [r.agent for r in reviews] == ["script", "codex", "script", "codex"]
    assert reviews[2].head_sha != reviews[0].head_sha == reviews[1].head_sha
    assert [e.head_sha for e in d.decided(fx.AssessRisk, "a")] == [
        reviews[0].head_sha,
        reviews[2].head_sha,
    ]


def test_a_crash_during_an_assessment_assesses_once() -> None:
    d = _driver()
    d.start()
    _answer_all_but_risk(d)
    [assessing] = d.pending(fx.AssessRisk, "a")
    d.execute(assessing.id)  # done outside, not committed: lost with the crash
    d.crash()
    assert d.pending(fx.AssessRisk, "a") == [assessing]  # the outbox runs it again
    d.answer(assessing.id)
    first = d.st.tasks["a"]
    d.feed(d.world.apply(assessing, "ok", d.now))  # a late duplicate result is dropped
    assert d.st.tasks["a"] == first
    state = d.run()
    assert state.tasks["a"].phase is Phase.MERGED
    assert len(d.decided(fx.AssessRisk, "a")) == 1


def test_classes_by_path_hold_further_turns_at_their_cap() -> None:
    d = _driver("ab", risk_rules=None, class_paths={"E2E": ("e2e/**",)}, class_caps={"E2E": 1})
    d.world.path_classes.update({"a": ("E2E",), "b": ("E2E",)})
    d.start()
    _answer_all_but_risk(d)
    for e in list(d.pending(fx.AssessRisk)):
        d.answer(e.id)
    assert d.st.tasks["a"].path_classes == ("E2E",)
    d.finish_ci(passed=False)  # both PRs fail CI: each needs a fix turn
    d.poll()
    turns = d.pending(fx.RunAgent)
    assert [e.task for e in turns] == ["a"]  # one of the class at a time
    reason = waiting_reason(d.st, d.st.tasks["b"])
    assert reason == "class E2E (changes e2e/**) at its cap (1 of 1 running)"
    d.answer(turns[0].id)
    assert [e.task for e in d.pending(fx.RunAgent)] == ["b"]


def test_a_class_by_path_never_holds_a_first_start() -> None:
    d = _driver("ab", risk_rules=None, class_paths={"E2E": ("e2e/**",)}, class_caps={"E2E": 1})
    d.start()
    assert sorted(e.task for e in d.pending(fx.PrepareWorkspace)) == ["a", "b"]


def _merges_only_when_cleared(d: CoreDriver) -> list[str]:
    """Every merge decided, checked against the state it was decided in."""
    wrong: list[str] = []

    def check(event: ev.Event, old: RunState | None, decision: Decision) -> None:
        for e in decision.effects:
            if not isinstance(e, fx.Merge):
                continue
            t = decision.state.tasks[e.task]
            if t.risk_head != t.head_sha or t.risk == "human":
                wrong.append(f"{e.task} merged with risk {t.risk!r} on {t.risk_head[-4:]}")
            if t.risk == "double-check" and (
                t.second_head != t.head_sha or t.second_verdict != "approved"
            ):
                wrong.append(f"{e.task} merged without the second approval")

    d.observers.append(check)
    return wrong


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    tiers=st.lists(st.sampled_from(["low", "double-check", "human"]), min_size=3, max_size=3),
    prs=st.booleans(),
)
def test_no_merge_passes_the_gate_without_its_tier_allowing_it(
    seed: int, tiers: list[str], prs: bool
) -> None:
    d = CoreDriver(
        [TaskSpec(id=i, title=i) for i in "abc"],
        config=replace(CONFIG, review=ReviewConfig(prs=prs)),
        seed=seed,
        timing=Timing(ci=1.0, jitter=0.5),
        chaos=Chaos(step_fail=0.1, ci_fail=0.2, review=0.2),
    )
    d.world.risk.update(zip("abc", tiers, strict=True))
    wrong = _merges_only_when_cleared(d)

    def over(t: TaskState, s: RunState) -> bool:
        return (
            t.phase is Phase.MERGED
            or s.specs[t.id].landing == "watch"
            or bool(attention_reason(t, s.config))
        )

    d.run(until=lambda s: all(over(t, s) for t in s.tasks.values()))
    assert wrong == []
    for tid, tier in zip("abc", tiers, strict=True):
        t = d.st.tasks[tid]
        if not attention_reason(t, d.config):
            assert (t.phase is Phase.MERGED) == (tier != "human"), d.describe()


def test_an_adopted_pr_is_checked_out_then_assessed_then_merged() -> None:
    d = _driver("")
    d.start()
    head = d.world.new_sha()
    d.world.tips["feature"] = head
    d.world.prs["pr-7"] = SimPR(
        number=7, task="pr-7", branch="feature", base="main", head=head, draft=False
    )
    d.world.ci[head] = CIStatus.PASSED
    spec = TaskSpec(id="pr-7", title="a person's PR", landing="pr")
    d.feed(ev.TaskAdopted(at=d.now, spec=spec, pr=7, branch="feature", base="main", head_sha=head))
    state = d.run()
    assert state.tasks["pr-7"].phase is Phase.MERGED
    kinds = [type(e).__name__ for e in d.decided(fx.Effect, "pr-7")]
    assert kinds[:3] == ["PrepareWorkspace", "AssessRisk", "Merge"]


def test_the_headless_line_says_the_tier_once() -> None:
    d = _driver()
    d.world.risk["a"] = "human"
    d.start()
    _answer_all_but_risk(d)
    [assessing] = d.pending(fx.AssessRisk, "a")
    result = d.execute(assessing.id)
    old = d.st
    new = d.deliver(assessing.id).state
    assert describe(result, old, new) == "risk: human; a person merges it"
    assert describe(result, new, d.feed(result).state) is None  # a repeat says nothing


def test_an_assessment_that_keeps_failing_asks_for_a_person() -> None:
    d = _driver()
    d.script("a", "AssessRisk", "fail", "fail", "fail")
    state = d.run()
    t = state.tasks["a"]
    assert attention_reason(t, d.config) == "risk assessment failed 3 times: simulated failure"
    assert not d.decided(fx.Merge)
    d.human("a", "the worktree is back, try again")
    assert d.run().tasks["a"].phase is Phase.MERGED
