"""Merge landing's git work against real repositories: a sync by merge, what diverged, what
changed, putting a worktree back after a reviewer, and landing on main exactly once under
the repository's lock (engine.landing)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from plait.engine.landing import Landed, MainLanding, Refused
from plait.testing.gitrepo import GitRepo, isolated_home_env
from plait.workspaces.squash import find_marked, since_args
from plait.workspaces.worktrees import GitWorkspaces


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    return GitRepo.init(tmp_path / "repo", files={"a.txt": "one\n", "b.txt": "bee\n"})


def _ws(repo: GitRepo) -> GitWorkspaces:
    return GitWorkspaces(str(repo.path), str(repo.path.parent / "wt"), "main")


def _task(repo: GitRepo, task: str, files: dict[str, str]) -> str:
    prepared = asyncio.run(_ws(repo).prepare(task=task, branch=f"plait/{task}", base_branch="main"))
    repo.commit(files, f"work on {task}", cwd=prepared.path)
    return prepared.path


def _landing(repo: GitRepo, ci: list[str] | None = None) -> MainLanding:
    work = str(repo.path.parent / "work")
    return MainLanding(str(repo.path), project="proj", ci_command=ci, work_dir=work)


def _land(landing: MainLanding, task: str) -> Landed | Refused:
    return asyncio.run(
        landing.land(task=task, branch=f"plait/{task}", main="main", title=f"do {task}", since=0)
    )


def test_a_synced_branch_lands_once_with_its_trailers(repo: GitRepo) -> None:
    _task(repo, "t1", {"c.txt": "sea\n"})
    landing = _landing(repo)
    first = _land(landing, "t1")
    assert isinstance(first, Landed)
    assert repo.rev("main") == first.sha
    body = repo.git("log", "-1", "--format=%B", "main")
    assert body.startswith("do t1\n")
    assert "Plait-Task: t1\nPlait-Project: proj\nPlait-Branch: plait/t1" in body
    assert repo.show("main", "c.txt") == "sea\n"
    # Run again (a crash before the result was recorded): the same commit, nothing new.
    again = _land(_landing(repo), "t1")
    assert again == first
    assert repo.git("rev-list", "--count", "main").strip() == "2"


def test_a_branch_behind_main_is_refused_and_lands_after_a_sync(repo: GitRepo) -> None:
    wt = _task(repo, "t1", {"c.txt": "sea\n"})
    repo.commit({"d.txt": "dee\n"}, "someone else lands")
    landing = _landing(repo)
    refused = _land(landing, "t1")
    assert refused == Refused("behind", main_sha=repo.rev("main"))
    synced = asyncio.run(_ws(repo).merge_in(worktree=wt, branch="plait/t1", onto="main"))
    assert synced.ok
    landed = _land(landing, "t1")
    assert isinstance(landed, Landed)
    assert repo.show("main", "d.txt") == "dee\n"
    assert repo.show("main", "c.txt") == "sea\n"


def test_red_ci_refuses_with_its_output_and_main_stays(repo: GitRepo) -> None:
    _task(repo, "t1", {"c.txt": "sea\n"})
    tip = repo.rev("main")
    script = (
        "import sys, pathlib; print('checking c.txt'); "
        "sys.exit(pathlib.Path('c.txt').read_text() != 'ok\\n')"
    )
    landing = _landing(repo, ci=["python3", "-c", script])
    refused = _land(landing, "t1")
    assert isinstance(refused, Refused)
    assert refused.why == "ci"
    assert "checking c.txt" in refused.evidence
    assert "failed (exit 1)" in refused.evidence
    assert repo.rev("main") == tip
    assert not list((repo.path.parent / "work").iterdir())  # the export is gone


def test_two_landings_at_once_take_turns_and_the_second_syncs(repo: GitRepo) -> None:
    _task(repo, "t1", {"c.txt": "sea\n"})
    _task(repo, "t2", {"d.txt": "dee\n"})
    landing = _landing(repo)

    async def both() -> list[Landed | Refused]:
        runs = [
            landing.land(task=task, branch=f"plait/{task}", main="main", title=task, since=0)
            for task in ("t1", "t2")
        ]
        return list(await asyncio.gather(*runs))

    first, second = asyncio.run(both())
    assert isinstance(first, Landed)
    assert isinstance(second, Refused)
    assert second.why == "behind"


def test_the_users_main_checkout_is_advanced_not_left_behind(repo: GitRepo) -> None:
    _task(repo, "t1", {"c.txt": "sea\n"})
    landed = _land(_landing(repo), "t1")
    assert isinstance(landed, Landed)
    assert (repo.path / "c.txt").read_text() == "sea\n"
    assert repo.git("status", "--porcelain").strip() == ""


def test_a_sync_by_merge_that_conflicts_is_undone_and_says_what_diverged(repo: GitRepo) -> None:
    ws = _ws(repo)
    wt = _task(repo, "t1", {"a.txt": "branch\n"})
    repo.commit({"a.txt": "main\n"}, "main changes a.txt too")
    out = asyncio.run(ws.merge_in(worktree=wt, branch="plait/t1", onto="main"))
    assert not out.ok
    assert out.conflict_paths == ("a.txt",)
    assert out.base_sha == repo.rev("main")
    assert repo.git("status", "--porcelain", cwd=wt).strip() == ""  # the merge was aborted
    detail = asyncio.run(ws.divergence(worktree=wt, onto="main"))
    assert "work on t1" in detail
    assert "main changes a.txt too" in detail
    assert "a.txt" in detail.split("What your branch changes:")[1]


def test_changed_paths_and_putting_a_worktree_back(repo: GitRepo) -> None:
    ws = _ws(repo)
    base = repo.rev("main")
    wt = _task(repo, "t1", {"tasks/x.md": "---\n", "src/y.py": "y\n"})
    paths = asyncio.run(ws.changed_paths(worktree=wt, base_sha=base))
    assert sorted(paths) == ["src/y.py", "tasks/x.md"]
    head = repo.rev("HEAD", cwd=wt)
    # A reviewer that edits, commits and leaves junk: all of it goes.
    repo.commit({"a.txt": "reviewer was here\n"}, "oops", cwd=wt)
    Path(wt, "junk.txt").write_text("junk")
    assert asyncio.run(ws.restore(worktree=wt, head_sha=head))
    assert repo.rev("HEAD", cwd=wt) == head
    assert not os.path.exists(os.path.join(wt, "junk.txt"))
    assert not asyncio.run(ws.restore(worktree=wt, head_sha=head))
    stat, patch = asyncio.run(ws.diff(worktree=wt, base_sha=base, head_sha=head, limit=40))
    assert "src/y.py" in stat
    assert "[diff cut at 40 characters" in patch


def test_work_whose_start_is_unknown_finds_its_landed_commit_of_any_age(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`since=0` searches all of main. git read the bound `--since=@-86400` as "now", so
    only a commit made in the current second was found: a landing run again a second
    later (after a crash) saw none and could land twice."""
    hour_ago = f"@{int(time.time()) - 3600} +0000"
    monkeypatch.setenv("GIT_COMMITTER_DATE", hour_ago)
    monkeypatch.setenv("GIT_AUTHOR_DATE", hour_ago)
    sha = repo.commit({"c.txt": "sea\n"}, "do t1\n\nPlait-Task: t1\nPlait-Project: proj")
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    monkeypatch.delenv("GIT_AUTHOR_DATE")
    trailers = ("Plait-Task: t1", "Plait-Project: proj")
    found = asyncio.run(find_marked(str(repo.path), base="main", trailers=trailers, since=0))
    assert found == sha
    assert since_args(0) == []
    assert since_args(time.time()) == [f"--since=@{int(time.time() - 86400)}"]
