"""How many git processes one task's life costs, step by step, on worktrees and the local
forge (P3: plait and the agents share the machine's cores, so every git plait starts is
time an agent waits), and that the reads taken without git still see every move.

Budgets are the counts now: a step that starts needing more gits fails here and must say
why. Before they were cut, this life took 35 gits (13 now), and a task of P3 41 (19 now).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plait.forges.local import LocalForge
from plait.testing.gitrepo import TEST_EMAIL, GitRepo, isolated_home_env, run_git
from plait.workspaces.git import AGENT_EMAIL
from plait.workspaces.worktrees import GitWorkspaces


class Gits:
    """Counts the git processes plait starts (the test's own git runs synchronously)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[str] = []
        real = asyncio.create_subprocess_exec

        async def counted(program: str, *args: Any, **kwargs: Any) -> Any:
            if program == "git":
                words = [a for a in args if isinstance(a, str)]
                self.seen.append(" ".join(words[2:4]))  # after `-c core.hooksPath=…`
            return await real(program, *args, **kwargs)

        monkeypatch.setattr(asyncio, "create_subprocess_exec", counted)

    def step(self, coro: Any) -> tuple[Any, list[str]]:
        start = len(self.seen)
        result = asyncio.run(coro)
        return result, self.seen[start:]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    return tmp_path


@pytest.fixture
def gits(monkeypatch: pytest.MonkeyPatch) -> Gits:
    return Gits(monkeypatch)


@pytest.fixture
def repo(home: Path) -> GitRepo:
    return GitRepo.init(home / "repo", files={"a.txt": "one\n"})


@pytest.fixture
def forge(repo: GitRepo, home: Path) -> Iterator[LocalForge]:
    made = LocalForge(str(home / "project.db"), str(repo.path))
    yield made
    made.close_sync()


def test_one_task_from_worktree_to_main_and_cleanup(
    repo: GitRepo, forge: LocalForge, home: Path, gits: Gits
) -> None:
    ws = GitWorkspaces(str(repo.path), str(home / "wt"), "main")
    # The first task in a run reads what is read once (hooks, config, main): not counted.
    asyncio.run(ws.prepare(task="t0", branch="plait/t0", base_branch="main"))
    budgets: dict[str, list[str]] = {}

    prepared, budgets["prepare"] = gits.step(
        ws.prepare(task="t1", branch="plait/t1", base_branch="main")
    )
    mark, budgets["mark main"] = gits.step(ws.main_mark())
    repo.commit({"b.txt": "bee\n"}, "the agent's work", cwd=prepared.path)
    turn, budgets["finish turn"] = gits.step(
        ws.finish_turn(worktree=prepared.path, base_sha=prepared.base_sha, task="t1", message="m")
    )
    said, budgets["guard main"] = gits.step(
        ws.guard_main(before=mark, worktree=prepared.path, head=turn.head_sha)
    )
    assert (said, turn.commits_ahead) == ("", 1)
    head, budgets["push"] = gits.step(forge.push(branch="plait/t1", worktree="", force=False))
    view, budgets["open PR"] = gits.step(
        forge.open_pr(task="t1", branch="plait/t1", base="main", title="Add b", body="")
    )
    assert (view.head_sha, view.mergeable) == (head, True)
    asyncio.run(forge.mark_ready(view.number))
    _, budgets["3 polls"] = gits.step(_poll_thrice(forge, view.number))
    merged, budgets["merge"] = gits.step(forge.merge(view.number, title="Add b"))
    _, budgets["cleanup"] = gits.step(
        ws.remove(task="t1", worktree=prepared.path, branch="plait/t1", keep=False)
    )
    assert repo.rev("main") == merged
    assert Path(repo.path, "b.txt").read_text() == "bee\n"  # the checkout moved with main
    assert "plait/t1" not in repo.branches()

    counts = {step: len(seen) for step, seen in budgets.items()}
    assert counts == {
        "prepare": 1,  # worktree add -b
        "mark main": 0,  # main's ref file is as prepare read it
        "finish turn": 2,  # status, rev-list
        "guard main": 0,
        "push": 1,  # the branch's tip
        "open PR": 2,  # pin the head, merge-tree for mergeable
        "3 polls": 0,  # nothing moved: no git at all
        "merge": 5,  # find a landing, worktree list, commit-tree, status, merge --ff-only
        "cleanup": 2,  # worktree remove, branch -D
    }, budgets


async def _poll_thrice(forge: LocalForge, number: int) -> None:
    for _ in range(3):
        await forge.poll({"t1": number})


def test_a_poll_reads_main_again_once_it_moved(
    repo: GitRepo, forge: LocalForge, home: Path, gits: Gits
) -> None:
    ws = GitWorkspaces(str(repo.path), str(home / "wt"), "main")
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    repo.commit({"a.txt": "agent\n"}, "agent edits a", cwd=prepared.path)
    asyncio.run(forge.push(branch="plait/t1", worktree="", force=False))
    view = asyncio.run(forge.open_pr(task="t1", branch="plait/t1", base="main", title="t", body=""))
    assert asyncio.run(forge.poll({"t1": view.number}))["t1"].mergeable is True
    repo.commit({"a.txt": "person\n"}, "a person edits a on main")  # a conflict now
    polled, seen = gits.step(forge.poll({"t1": view.number}))
    assert polled["t1"].mergeable is False
    assert len(seen) == 2  # main's tip, merge-tree


def _move_main(repo: GitRepo, to: str, how: str) -> None:
    if how == "packed before":
        run_git("pack-refs", "--all", cwd=repo.path)
    run_git("update-ref", "refs/heads/main", to, cwd=repo.path)
    if how in ("packed after", "packed both"):
        run_git("pack-refs", "--all", cwd=repo.path)


@pytest.mark.parametrize("how", ["loose", "packed before", "packed after", "packed both"])
def test_the_main_guard_sees_a_move_wherever_git_keeps_main(
    repo: GitRepo, home: Path, how: str
) -> None:
    ws = GitWorkspaces(str(repo.path), str(home / "wt"), "main")
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    first = repo.rev("main")
    tip = repo.commit({"c.txt": "sea\n"}, "a person's commit")
    if how == "packed both":
        run_git("pack-refs", "--all", cwd=repo.path)
    mark = asyncio.run(ws.main_mark())
    assert mark == tip
    _move_main(repo, first, how)  # the agent resets main behind plait's back
    said = asyncio.run(ws.guard_main(before=mark, worktree=prepared.path))
    assert "the agent touched main" in said
    assert repo.rev("main") == tip  # put back


@pytest.mark.parametrize("identity", [True, False])
def test_a_squash_is_committed_by_the_configured_identity_else_plaits(
    home: Path, identity: bool
) -> None:
    repo = GitRepo.init(home / "repo", files={"a.txt": "one\n"}, identity=identity)
    ws = GitWorkspaces(str(repo.path), str(home / "wt"), "main")
    forge = LocalForge(str(home / "project.db"), str(repo.path))
    try:
        prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
        head = repo.commit({"b.txt": "bee\n"}, "work", cwd=prepared.path)
        asyncio.run(forge.push(branch="plait/t1", worktree="", force=False))
        view = asyncio.run(
            forge.open_pr(task="t1", branch="plait/t1", base="main", title="t", body="")
        )
        asyncio.run(forge.mark_ready(view.number))
        merged = asyncio.run(forge.merge(view.number, title="t"))
    finally:
        forge.close_sync()
    author = repo.git("log", "-1", "--format=%an <%ae>", head)
    assert repo.git("log", "-1", "--format=%an <%ae>", merged) == author  # the work's
    assert repo.git("log", "-1", "--format=%ce", merged).strip() == (
        TEST_EMAIL if identity else AGENT_EMAIL
    )


def test_the_count_is_by_name(gits: Gits, repo: GitRepo) -> None:
    from plait.workspaces.git import git

    asyncio.run(git("status", cwd=str(repo.path)))
    assert Counter(gits.seen) == Counter({"status": 1})
