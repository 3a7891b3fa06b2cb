"""kill -9 of `plait run` at seeded random moments of a plan, ten times, each followed by
`plait resume` (issue 14, R1, short form): every task lands, nothing is done twice on the
forge or main, no notification is told twice, no process or temp folder is left, and the
store passes `PRAGMA integrity_check` after every kill. `python -m bench R1` runs the
long form (30 tasks, ≥ 100 kills)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.testing.torture_plan import PlanTorture, main_problems, plan_markdown

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
def test_ten_kills_at_random_points_of_a_plan_on_the_local_forge(tmp_path: Path) -> None:
    plan = PlanTorture(tmp_path, tasks=10, forge="local", seed=14).run(10, timeout=480)
    assert plan.loop.kills == 10
    assert plan.problems() == [], plan
    assert plan.notifications >= 1  # the run's end, at least


def test_the_main_check_sees_a_change_landed_twice(tmp_path: Path) -> None:
    """The checker itself: a task's file added by two commits is reported."""
    from plait.testing.gitrepo import GitRepo, run_git

    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "x\n"})
    for i, content in ((1, "X = 1\n"), (1, "X = 1\n")):
        (tmp_path / "repo" / "src").mkdir(exist_ok=True)
        (tmp_path / "repo" / "src" / f"mod_{i}.py").write_text(content)
        run_git("add", "-A", cwd=repo.path)
        run_git("commit", "-qm", f"module {i}", "--allow-empty", cwd=repo.path)
        run_git("rm", "-q", f"src/mod_{i}.py", cwd=repo.path)
        run_git("commit", "-qm", "drop", cwd=repo.path)
    problems = main_problems(tmp_path / "repo", 1)
    assert any("added by 2 commits" in p for p in problems), problems


def test_the_plan_has_the_shape_the_torture_needs() -> None:
    text = plan_markdown(10)
    assert text.count("### Patch ") == 10
    assert "- Patch 6 [INFRA] -> [2, 3]" in text
