"""plait.toml's [swarm] and [review] tables (and `plait swarm CONFIG.toml`): typed values,
or every problem at file:line with a fix."""

from __future__ import annotations

import pytest

from plait.core.model import Reviewer, WorkerGroup
from plait.engine.settings import Settings, effective
from plait.errors import PlanError
from plait.plans.config import parse_config

FULL = """\
[merge]
sync = "merge"

[swarm]
tickets = "work/tickets"
max_pending = 4
goal = "make the CLI pleasant"

[[swarm.workers]]
name = "codex"
agent = "codex"
model = "gpt-5.1-codex"
effort = "high"
prompts = ["prompts/worker.md", "/abs/rules.md"]
count = 3
max_cycles = 20
wait = 1.5
may_plan = true
max_resumes = 4

[[swarm.workers]]
name = "claude"
agent = "claude"

[[swarm.planners]]
agent = "claude"
model = "opus"
max_cycles = 5

[review]
reviewers = [{agent = "claude", model = "opus"}, "codex"]
rounds = 2
exhausted = "attention"
prompts = "prompts/review.md"
prs = true
"""


def test_every_swarm_and_review_setting_is_read() -> None:
    cfg = parse_config(FULL, "/repo/plait.toml")
    assert cfg.sync == "merge"
    swarm = cfg.swarm
    assert swarm is not None
    assert (swarm.tickets, swarm.max_pending, swarm.goal) == (
        "work/tickets",
        4,
        "make the CLI pleasant",
    )
    codex, claude = swarm.workers
    assert codex == WorkerGroup(
        name="codex",
        agent="codex",
        model="gpt-5.1-codex",
        effort="high",
        prompts=("/repo/prompts/worker.md", "/abs/rules.md"),
        count=3,
        max_cycles=20,
        wait=1.5,
        may_plan=True,
        max_resumes=4,
    )
    assert claude == WorkerGroup(name="claude", agent="claude")
    [planner] = swarm.planners
    assert planner == WorkerGroup(
        name="planner", agent="claude", model="opus", max_cycles=5, queue="planning", may_plan=True
    )
    review = cfg.review
    assert review is not None
    assert review.reviewers == (Reviewer(agent="claude", model="opus"), Reviewer(agent="codex"))
    assert (review.rounds, review.exhausted, review.prs) == (2, "attention", True)
    assert review.prompts == ("/repo/prompts/review.md",)


def test_the_core_gets_the_worker_groups_planners_review_and_sync() -> None:
    cfg = parse_config(FULL, "/repo/plait.toml")
    run = effective("p", Settings(repo="/repo"), cfg).config
    assert [g.name for g in run.workers] == ["codex", "claude", "planner"]
    assert run.workers[2].queue == "planning"
    assert run.review == cfg.review
    assert run.sync == "merge"
    assert run.tickets_dir == "work/tickets"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[swarm]\ncount = 3\n", 2, "unknown key 'count' in [swarm]"),
        ("[swarm]\nlanding = 'none'\n", 2, 'landing = "none" is not merge or pr'),
        ("[swarm]\nmax_pending = 0\n", 2, "max_pending = 0 is not a whole number of at least 1"),
        (
            "[[swarm.workers]]\nname = 'a'\n[[swarm.workers]]\nname = 'b'\ncount = 0\n",
            5,
            "count = 0 is not a whole number of at least 1",
        ),
        ("[[swarm.workers]]\nwait = -1\n", 2, "wait = -1 is not a number, 0 or more"),
        ("[[swarm.workers]]\nname = 'a b'\n", 2, "group name 'a b' is not a valid name"),
        ("[[swarm.planners]]\nmay_plan = true\n", 2, "unknown key 'may_plan'"),
        ("[[swarm.workers]]\nname = 'x'\n[[swarm.planners]]\nname = 'x'\n", 0, "named 'x'"),
        ("[review]\nrounds = -1\n", 2, "rounds = -1"),
        ("[review]\nexhausted = 'never'\n", 2, 'exhausted = "never" is not queue or attention'),
        ("[review]\nreviewers = [{model = 'opus'}]\n", 2, "a reviewer needs an agent"),
        ("[review]\nprs = 'yes'\n", 2, 'prs = "yes" is not true or false'),
        ("[merge]\nsync = 'squash'\n", 2, 'sync = "squash" is not rebase or merge'),
    ],
)
def test_a_mistake_is_reported_at_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_config(text, "plait.toml")
    problem = next(p for p in caught.value.problems if message in p.message)
    if line:
        assert problem.line == line, caught.value.render_all()
    assert problem.hint
