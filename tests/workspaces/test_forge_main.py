"""With a forge that merges (GitHub), the local main is the user's and stays behind: what a
conflict turn is told to merge, and the divergence it is shown, are main as the forge has
it (issue 14: found by the R1 torture on the GitHub double, where a conflict turn ran
`git merge main`, got "Already up to date" and was asked again forever)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from plait.testing.gitrepo import GitRepo, isolated_home_env, run_git
from plait.workspaces.worktrees import GitWorkspaces


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    origin = GitRepo.init(tmp_path / "origin", files={"a.txt": "one\n"})
    run_git("clone", "-q", str(origin.path), str(tmp_path / "clone"), cwd=tmp_path)
    # The forge's main moves on (a PR merged there); the clone's main does not.
    origin.commit({"b.txt": "merged on the forge\n"}, "landed elsewhere")
    return tmp_path / "clone"


def test_a_turn_merges_main_as_the_forge_has_it(clone: Path) -> None:
    ws = GitWorkspaces(str(clone), str(clone.parent / "wt"), "main", remote="origin")
    ref = asyncio.run(ws.agent_ref("main"))
    assert ref == "origin/main"
    forge_tip = run_git("rev-parse", "main", cwd=clone.parent / "origin").strip()
    assert run_git("rev-parse", ref, cwd=clone).strip() == forge_tip
    assert asyncio.run(ws.agent_ref("plait/other")) == "plait/other"


def test_the_divergence_shows_the_forges_commits(clone: Path) -> None:
    ws = GitWorkspaces(str(clone), str(clone.parent / "wt"), "main", remote="origin")
    ready = asyncio.run(ws.prepare(task="t", branch="plait/t", base_branch="main"))
    # prepare based the branch on the forge's main; pretend it started earlier.
    run_git("reset", "-q", "--hard", "HEAD~1", cwd=ready.path)
    text = asyncio.run(ws.divergence(worktree=ready.path, onto="main"))
    assert "landed elsewhere" in text, text


def test_without_a_forge_main_is_main(clone: Path) -> None:
    ws = GitWorkspaces(str(clone), str(clone.parent / "wt"), "main")
    assert asyncio.run(ws.agent_ref("main")) == "main"


def test_prepares_at_once_fetch_main_one_at_a_time(
    clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by bench P7 on the GitHub double: several tasks starting together each
    fetched the forge's main into the same tracking ref, and git refused one ("cannot
    lock ref 'refs/remotes/origin/main': is at X but expected Y"), a start failure."""
    from plait.workspaces import git as git_module
    from plait.workspaces import worktrees

    running, most = 0, 0  # fetches into main's tracking ref under way, and their most
    real = git_module.git

    async def counting(*args: str, **kw: object) -> object:
        nonlocal running, most
        fetch = args[:1] == ("fetch",) and args[-1].endswith(":refs/remotes/origin/main")
        running += fetch
        most = max(most, running)
        try:
            return await real(*args, **kw)  # type: ignore[arg-type]
        finally:
            running -= fetch

    monkeypatch.setattr(worktrees, "git", counting)
    ws = GitWorkspaces(str(clone), str(clone.parent / "wt"), "main", remote="origin")

    async def both() -> None:
        await asyncio.gather(
            *(ws.prepare(task=f"t{i}", branch=f"plait/t{i}", base_branch="main") for i in range(6))
        )

    asyncio.run(both())
    assert most == 1
