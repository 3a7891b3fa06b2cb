"""A task's operation queue: dedup, coalescing, priority order; derived needs-attention."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plait.core.model import Counters, Op, OpKind, Phase, ReviewThread, RunConfig, TaskState
from plait.core.task import attention_reason, enqueue, needs_attention, next_op, take

CONFIG = RunConfig(project="p", repo="/r")


def _queue(*ops: Op) -> TaskState:
    task = TaskState(id="t", phase=Phase.ACTIVE)
    for op in ops:
        task = enqueue(task, op)
    return task


def _thread(tid: str) -> ReviewThread:
    return ReviewThread(id=tid, body=f"fix {tid}")


def test_same_kind_and_key_is_one_op() -> None:
    op = Op(kind=OpKind.HUMAN, key="m1", text="hi")
    assert _queue(op, op).queue == (op,)


def test_human_messages_never_coalesce() -> None:
    a = Op(kind=OpKind.HUMAN, key="m1", text="one")
    b = Op(kind=OpKind.HUMAN, key="m2", text="two")
    assert _queue(a, b).queue == (a, b)


@pytest.mark.parametrize("kind", [OpKind.REBASE, OpKind.CI, OpKind.CONFLICT])
def test_newer_op_replaces_older_of_replacing_kinds(kind: OpKind) -> None:
    old = Op(kind=kind, key="old", onto="main")
    new = Op(kind=kind, key="new", onto="main")
    human = Op(kind=OpKind.HUMAN, key="m1")
    assert _queue(old, human, new).queue == (human, new)


def test_review_threads_merge_into_one_batch() -> None:
    first = Op(kind=OpKind.REVIEW, key="t1", threads=(_thread("t1"),))
    second = Op(kind=OpKind.REVIEW, key="t1,t2", threads=(_thread("t1"), _thread("t2")))
    third = Op(kind=OpKind.REVIEW, key="t3", threads=(_thread("t3"),))
    task = _queue(first, second, third)
    assert len(task.queue) == 1
    batch = task.queue[0]
    assert [t.id for t in batch.threads] == ["t1", "t2", "t3"]
    assert batch.key == "t1,t2,t3"


def test_next_op_follows_feedback_priority() -> None:
    review = Op(kind=OpKind.REVIEW, key="t1", threads=(_thread("t1"),))
    ci = Op(kind=OpKind.CI, key="h1")
    conflict = Op(kind=OpKind.CONFLICT, key="s1", paths=("a.py",))
    human = Op(kind=OpKind.HUMAN, key="m1")
    rebase = Op(kind=OpKind.REBASE, key="r1", onto="main")
    task = _queue(review, ci, conflict, human, rebase)
    served = []
    while task.queue:
        op = next_op(task)
        assert op is not None
        served.append(op.kind)
        task = replace(take(task, op, "agent"), current=None)
    assert served == [OpKind.REBASE, OpKind.HUMAN, OpKind.CONFLICT, OpKind.CI, OpKind.REVIEW]


def test_same_kind_is_served_oldest_first() -> None:
    a = Op(kind=OpKind.HUMAN, key="m1")
    b = Op(kind=OpKind.HUMAN, key="m2")
    assert next_op(_queue(b, a)) == b


def test_take_makes_the_op_current() -> None:
    op = Op(kind=OpKind.CI, key="h")
    task = take(_queue(op), op, "agent")
    assert (task.queue, task.current, task.step) == ((), op, "agent")
    assert next_op(task) is None


@pytest.mark.parametrize(
    "counter",
    ["start_failures", "turn_failures", "rebase_failures", "push_failures", "merge_failures"],
)
def test_failure_counters_need_attention_at_the_cap(counter: str) -> None:
    below = TaskState(id="t", phase=Phase.ACTIVE, counters=Counters(**{counter: 2}))
    at_cap = replace(below, counters=Counters(**{counter: 3}), last_error="boom")
    assert not needs_attention(below, CONFIG)
    assert needs_attention(at_cap, CONFIG)
    assert attention_reason(at_cap, CONFIG).endswith(": boom")


def test_ci_failures_need_attention_at_their_own_cap() -> None:
    two = TaskState(id="t", phase=Phase.ACTIVE, counters=Counters(ci_failures=2))
    assert not needs_attention(two, CONFIG)
    three = replace(two, counters=Counters(ci_failures=3))
    assert "CI failed 3 times" in attention_reason(three, CONFIG)
    assert not needs_attention(three, replace(CONFIG, ci_failure_cap=4))


def test_merged_task_never_needs_attention() -> None:
    task = TaskState(id="t", phase=Phase.MERGED, counters=Counters(ci_failures=9))
    assert attention_reason(task, CONFIG) == ""
