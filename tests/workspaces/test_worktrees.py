"""GitWorkspaces against real git in temp dirs."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import stat
from pathlib import Path

import pytest

from plait.errors import GitError
from plait.testing.gitrepo import GitRepo, isolated_home_env, run_git
from plait.workspaces.git import AGENT_EMAIL
from plait.workspaces.inspect import list_worktrees, op_in_progress
from plait.workspaces.worktrees import GitWorkspaces


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "not-a-repo"))  # must be scrubbed
    return GitRepo.init(tmp_path / "repo", files={"a.txt": "one\n", "b.txt": "bee\n"})


def make_ws(repo: GitRepo, hook: str | None = None) -> GitWorkspaces:
    return GitWorkspaces(str(repo.path), str(repo.path.parent / "wt"), "main", hook=hook)


def test_prepare_creates_worktree_on_new_branch(repo: GitRepo) -> None:
    ws = make_ws(repo)
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    assert prepared.path == os.path.realpath(repo.path.parent / "wt" / "t1")
    assert prepared.base_sha == repo.rev("main")
    assert repo.rev("plait/t1") == repo.rev("main")
    assert (Path(prepared.path) / "a.txt").read_text() == "one\n"
    # the user's checkout is untouched and still on main
    assert repo.git("branch", "--show-current").strip() == "main"


def test_prepare_reuses_and_rediscovers(repo: GitRepo) -> None:
    first = asyncio.run(make_ws(repo).prepare(task="t1", branch="plait/t1", base_branch="main"))
    sha = repo.commit({"c.txt": "sea\n"}, "work", cwd=first.path)
    repo.commit({"a.txt": "main moved\n"}, "main moves on")
    # a fresh instance (after a restart) finds the worktree and keeps the branch's work
    again = asyncio.run(make_ws(repo).prepare(task="t1", branch="plait/t1", base_branch="main"))
    assert again.path == first.path
    assert repo.rev("plait/t1") == sha
    assert again.base_sha == first.base_sha  # merge-base, not the new main tip


def test_prepare_rediscovers_worktree_elsewhere(repo: GitRepo, tmp_path: Path) -> None:
    elsewhere = tmp_path / "other-place"
    repo.git("worktree", "add", "-b", "plait/t2", str(elsewhere), "main")
    prepared = asyncio.run(make_ws(repo).prepare(task="t2", branch="plait/t2", base_branch="main"))
    assert prepared.path == os.path.realpath(elsewhere)


def test_prepare_reuses_existing_branch(repo: GitRepo) -> None:
    repo.git("branch", "plait/t3", "main")
    sha = repo.commit({"x.txt": "x\n"}, "on main")
    prepared = asyncio.run(make_ws(repo).prepare(task="t3", branch="plait/t3", base_branch="main"))
    assert repo.rev("HEAD", cwd=prepared.path) == repo.rev("main~1")
    assert prepared.base_sha == repo.rev("main~1")
    assert sha == repo.rev("main")


def test_prepare_recreates_deleted_worktree_dir(repo: GitRepo) -> None:
    ws = make_ws(repo)
    first = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    sha = repo.commit({"c.txt": "sea\n"}, "work", cwd=first.path)
    shutil.rmtree(first.path)
    again = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    assert again.path == first.path
    assert repo.rev("HEAD", cwd=again.path) == sha


def test_prepare_after_a_worktree_and_its_branch_were_deleted_by_hand(repo: GitRepo) -> None:
    """git still lists the deleted worktree at the task's path: it is pruned (only then)
    and a fresh branch is made there again."""
    ws = make_ws(repo)
    first = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    shutil.rmtree(first.path)
    repo.git("update-ref", "-d", "refs/heads/plait/t1")  # as a person would, by force
    sha = repo.commit({"m.txt": "main moved\n"}, "on main")
    again = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    assert again.path == first.path
    assert again.base_sha == sha == repo.rev("HEAD", cwd=again.path)


def _counting_git(tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a `git` first on PATH that logs its subcommand, then runs the real one."""
    real = shutil.which("git")
    assert real is not None
    log = tmp / "git-calls.log"
    wrapper = tmp / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    return log


def test_a_fresh_worktree_and_a_turn_end_cost_few_gits(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """P3: each git is a process (tens of ms on a loaded machine), and a turn's end holds
    its agent slot. A second task's fresh worktree: no prune without a stale worktree, no
    second branch lookup, no merge-base for a branch just made at the base; its turn end:
    one rev-list for the head and the count."""
    ws = make_ws(repo)
    asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))  # first: hooks
    log = _counting_git(tmp_path, monkeypatch)
    prepared = asyncio.run(ws.prepare(task="t2", branch="plait/t2", base_branch="main"))
    made = log.read_text().splitlines()
    log.unlink()
    repo.commit({"t2.txt": "2\n"}, "agent commit", cwd=prepared.path)
    log.unlink(missing_ok=True)
    turn = asyncio.run(
        ws.finish_turn(worktree=prepared.path, base_sha=prepared.base_sha, task="t2", message="x")
    )
    ended = log.read_text().splitlines()
    assert turn.commits_ahead == 1
    assert not any(c.endswith(("worktree prune", "merge-base plait/t2 " + prepared.base_sha))
                   for c in made), made  # fmt: skip
    assert len(made) <= 7, made
    assert len(ended) <= 4, ended


def test_finish_turn_of_a_turn_without_commits(repo: GitRepo) -> None:
    ws = make_ws(repo)
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    turn = asyncio.run(
        ws.finish_turn(worktree=prepared.path, base_sha=prepared.base_sha, task="t1", message="x")
    )
    assert (turn.head_sha, turn.commits_ahead) == (prepared.base_sha, 0)


@pytest.mark.parametrize(
    ("task", "branch"),
    [
        ("../escape", "plait/x"),
        ("-rf", "plait/x"),
        ("a;rm", "plait/x"),
        ("line\nbreak", "plait/x"),
        ("ok", "-delete"),
        ("ok", "plait/../x"),
        ("ok", "plait/a b"),
        ("ok", "plait/x.lock"),
        ("ok", "@{-1}"),
        ("ok", "plait/x\nmain"),
    ],
)
def test_hostile_names_rejected(repo: GitRepo, task: str, branch: str) -> None:
    with pytest.raises(GitError):
        asyncio.run(make_ws(repo).prepare(task=task, branch=branch, base_branch="main"))
    assert repo.branches() == ["main"]
    assert not (repo.path.parent / "wt").exists() or not any((repo.path.parent / "wt").iterdir())


def test_missing_base_branch(repo: GitRepo) -> None:
    with pytest.raises(GitError, match="does not exist"):
        asyncio.run(make_ws(repo).prepare(task="t", branch="plait/t", base_branch="nope"))


def _write_hook(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_hook_runs_on_create_only(repo: GitRepo, tmp_path: Path) -> None:
    log = tmp_path / "hook.log"
    hook = _write_hook(
        tmp_path / "hook.sh",
        f'echo "$PLAIT_TASK_ID $PLAIT_BRANCH $PLAIT_WORKTREE_PATH $(pwd)" >> {log}\n',
    )
    ws = make_ws(repo, hook=hook)
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    lines = log.read_text().splitlines()
    assert lines == [f"t1 plait/t1 {prepared.path} {prepared.path}"]


def test_hook_failure_is_git_error_and_retried(repo: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "fail"
    marker.write_text("")
    hook = _write_hook(tmp_path / "hook.sh", f"if [ -e {marker} ]; then echo boom; exit 3; fi\n")
    ws = make_ws(repo, hook=hook)
    with pytest.raises(GitError, match="boom") as info:
        asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    assert info.value.hint
    marker.unlink()
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    assert Path(prepared.path, "a.txt").exists()


def test_identity_fallback_only_in_worktree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    repo = GitRepo.init(tmp_path / "repo", identity=False)
    prepared = asyncio.run(make_ws(repo).prepare(task="t", branch="plait/t", base_branch="main"))
    assert repo.git("config", "user.email", cwd=prepared.path).strip() == AGENT_EMAIL
    # the main checkout did not get plait's identity
    assert repo.has_identity(None) is False
    # finish_turn can commit with the fallback identity
    Path(prepared.path, "n.txt").write_text("new\n")
    ws = make_ws(repo)
    turn = asyncio.run(
        ws.finish_turn(worktree=prepared.path, base_sha=prepared.base_sha, task="t", message="m")
    )
    assert turn.commits_ahead == 1
    author = repo.git("log", "-1", "--format=%ae", turn.head_sha).strip()
    assert author == AGENT_EMAIL


def test_finish_turn_commits_leftovers_and_counts(repo: GitRepo) -> None:
    ws = make_ws(repo)
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    wt = prepared.path
    repo.commit({"one.txt": "1\n"}, "agent commit", cwd=wt)
    Path(wt, ".gitignore").write_text("*.log\n")
    Path(wt, "debug.log").write_text("ignored\n")
    Path(wt, "new.txt").write_text("untracked\n")
    Path(wt, "a.txt").write_text("changed\n")
    turn = asyncio.run(
        ws.finish_turn(worktree=wt, base_sha=prepared.base_sha, task="t1", message="leftovers")
    )
    assert turn.commits_ahead == 2
    assert turn.head_sha == repo.rev("plait/t1")
    assert repo.git("log", "-1", "--format=%s", "plait/t1").strip() == "leftovers"
    files = repo.git("show", "--name-only", "--format=", "plait/t1").split()
    assert sorted(files) == [".gitignore", "a.txt", "new.txt"]
    assert repo.status(cwd=wt) == "?? debug.log\n" or repo.status(cwd=wt) == ""
    # nothing left: a second call commits nothing
    again = asyncio.run(
        ws.finish_turn(worktree=wt, base_sha=prepared.base_sha, task="t1", message="x")
    )
    assert again == turn


def test_finish_turn_caps_the_subject_and_keeps_the_title_in_the_body(repo: GitRepo) -> None:
    ws = make_ws(repo)
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    Path(prepared.path, "n.txt").write_text("new\n")
    title = "Port " + "every handler " * 12 + "to sessions"
    message = f"{title}\n\nChanges the agent left uncommitted."
    turn = asyncio.run(
        ws.finish_turn(
            worktree=prepared.path, base_sha=prepared.base_sha, task="t1", message=message
        )
    )
    subject = repo.git("log", "-1", "--format=%s", turn.head_sha).strip()
    assert len(subject) <= 72
    assert title in repo.git("log", "-1", "--format=%b", turn.head_sha)


def test_finish_turn_concludes_resolved_merge(repo: GitRepo) -> None:
    ws = make_ws(repo)
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    wt = prepared.path
    repo.commit({"a.txt": "branch\n"}, "branch edit", cwd=wt)
    repo.commit({"a.txt": "main\n"}, "main edit")
    with pytest.raises(AssertionError):  # the merge stops on the conflict
        run_git("merge", "main", cwd=wt)
    with pytest.raises(GitError, match=r"unresolved conflicts in a\.txt"):
        asyncio.run(ws.finish_turn(worktree=wt, base_sha=prepared.base_sha, task="t1", message="m"))
    Path(wt, "a.txt").write_text("both\n")
    turn = asyncio.run(
        ws.finish_turn(worktree=wt, base_sha=prepared.base_sha, task="t1", message="merge main")
    )
    assert asyncio.run(op_in_progress(wt)) is None
    parents = repo.git("log", "-1", "--format=%P", turn.head_sha).split()
    assert len(parents) == 2
    assert repo.show("plait/t1", "a.txt") == "both\n"


def _two_branches(repo: GitRepo, ws: GitWorkspaces, conflict: bool) -> tuple[str, str, str]:
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    wt = prepared.path
    repo.commit({"a.txt": "branch\n"}, "branch edit a", cwd=wt)
    repo.commit({"c.txt": "c\n"}, "branch adds c", cwd=wt)
    repo.commit({"a.txt" if conflict else "b.txt": "main\n"}, "main edit")
    return wt, prepared.base_sha, repo.rev("main")


def test_rebase_clean_and_idempotent(repo: GitRepo) -> None:
    ws = make_ws(repo)
    wt, old_base, main_tip = _two_branches(repo, ws, conflict=False)
    out = asyncio.run(ws.rebase(worktree=wt, branch="plait/t1", onto="main", upstream=old_base))
    assert out.ok
    assert out.base_sha == main_tip
    assert out.head_sha == repo.rev("plait/t1")
    assert repo.rev("plait/t1~2") == main_tip
    again = asyncio.run(ws.rebase(worktree=wt, branch="plait/t1", onto="main", upstream=old_base))
    assert again == out


def test_rebase_conflict_reports_and_aborts(repo: GitRepo) -> None:
    ws = make_ws(repo)
    wt, old_base, main_tip = _two_branches(repo, ws, conflict=True)
    before = repo.rev("plait/t1")
    out = asyncio.run(ws.rebase(worktree=wt, branch="plait/t1", onto="main", upstream=old_base))
    assert not out.ok
    assert out.conflict_paths == ("a.txt",)
    assert out.base_sha == main_tip
    assert repo.rev("plait/t1") == before
    assert asyncio.run(op_in_progress(wt)) is None
    assert repo.status(cwd=wt) == ""


def test_rebase_stacked_after_squash(repo: GitRepo) -> None:
    """B is stacked on A; A lands on main as a squash commit; B moves onto main."""
    ws = make_ws(repo)
    a = asyncio.run(ws.prepare(task="a", branch="plait/a", base_branch="main"))
    repo.commit({"a.txt": "from A\n"}, "A work", cwd=a.path)
    b = asyncio.run(ws.prepare(task="b", branch="plait/b", base_branch="plait/a"))
    assert b.base_sha == repo.rev("plait/a")
    repo.commit({"b.txt": "from B\n"}, "B work", cwd=b.path)
    repo.commit({"a.txt": "from A\n"}, "A (squashed)")  # what a squash merge leaves on main
    out = asyncio.run(
        ws.rebase(worktree=b.path, branch="plait/b", onto="main", upstream=b.base_sha)
    )
    assert out.ok
    assert repo.rev("plait/b~1") == repo.rev("main")
    assert repo.git("rev-list", "--count", "main..plait/b").strip() == "1"
    again = asyncio.run(
        ws.rebase(worktree=b.path, branch="plait/b", onto="main", upstream=b.base_sha)
    )
    assert again.ok
    assert again.head_sha == out.head_sha


def test_rebase_drops_old_base_even_if_onto_is_ancestor(repo: GitRepo) -> None:
    ws = make_ws(repo)
    a = asyncio.run(ws.prepare(task="a", branch="plait/a", base_branch="main"))
    repo.commit({"a.txt": "from A\n"}, "A work", cwd=a.path)
    b = asyncio.run(ws.prepare(task="b", branch="plait/b", base_branch="plait/a"))
    repo.commit({"b.txt": "from B\n"}, "B work", cwd=b.path)
    out = asyncio.run(
        ws.rebase(worktree=b.path, branch="plait/b", onto="main", upstream=b.base_sha)
    )
    assert out.ok
    assert repo.git("log", "--format=%s", "main..plait/b").split("\n")[0] == "B work"
    assert repo.git("rev-list", "--count", "main..plait/b").strip() == "1"


def test_remove_idempotent(repo: GitRepo) -> None:
    ws = make_ws(repo)
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    Path(prepared.path, "dirty.txt").write_text("x\n")
    asyncio.run(ws.remove(task="t1", worktree=prepared.path, branch="plait/t1", keep=True))
    assert not Path(prepared.path).exists()
    assert "plait/t1" in repo.branches()
    asyncio.run(ws.remove(task="t1", worktree=prepared.path, branch="plait/t1", keep=False))
    assert repo.branches() == ["main"]
    asyncio.run(ws.remove(task="t1", worktree=prepared.path, branch="plait/t1", keep=False))
    entries = asyncio.run(list_worktrees(str(repo.path)))
    assert [os.path.realpath(e.path) for e in entries] == [os.path.realpath(repo.path)]


def test_dirty_main_checkout_is_fine(repo: GitRepo) -> None:
    Path(repo.path, "a.txt").write_text("user is editing\n")
    ws = make_ws(repo)
    prepared = asyncio.run(ws.prepare(task="t1", branch="plait/t1", base_branch="main"))
    Path(prepared.path, "z.txt").write_text("z\n")
    asyncio.run(
        ws.finish_turn(worktree=prepared.path, base_sha=prepared.base_sha, task="t1", message="m")
    )
    assert Path(repo.path, "a.txt").read_text() == "user is editing\n"
    assert repo.status() == " M a.txt\n"


def test_finish_turn_continues_resolved_rebase(repo: GitRepo) -> None:
    ws = make_ws(repo)
    wt, old_base, main_tip = _two_branches(repo, ws, conflict=True)
    with pytest.raises(AssertionError):  # the agent's own rebase stops on the conflict
        run_git("rebase", "main", cwd=wt)
    assert asyncio.run(op_in_progress(wt)) == "rebase"
    Path(wt, "a.txt").write_text("resolved\n")  # fixed, not staged
    turn = asyncio.run(ws.finish_turn(worktree=wt, base_sha=main_tip, task="t1", message="m"))
    assert asyncio.run(op_in_progress(wt)) is None
    assert turn.commits_ahead == 2
    assert repo.rev("plait/t1~2") == main_tip
    assert repo.show("plait/t1", "a.txt") == "resolved\n"
    del old_base


def test_rebase_recovers_from_interrupted_rebase(repo: GitRepo) -> None:
    ws = make_ws(repo)
    wt, old_base, main_tip = _two_branches(repo, ws, conflict=True)
    before = repo.rev("plait/t1")
    with pytest.raises(AssertionError):  # a rebase left behind (crash mid-rebase)
        run_git("rebase", "main", cwd=wt)
    out = asyncio.run(ws.rebase(worktree=wt, branch="plait/t1", onto="main", upstream=old_base))
    assert not out.ok
    assert out.conflict_paths == ("a.txt",)
    assert repo.rev("plait/t1") == before
    assert main_tip == out.base_sha


def test_branch_checked_out_in_main_checkout_refused(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "plait/t1")
    with pytest.raises(GitError, match="main checkout"):
        asyncio.run(make_ws(repo).prepare(task="t1", branch="plait/t1", base_branch="main"))


def test_work_state_tells_what_a_turn_left(repo: GitRepo) -> None:
    ws = make_ws(repo)
    wt = asyncio.run(ws.prepare(task="t9", branch="plait/t9", base_branch="main")).path
    start = asyncio.run(ws.work_state(worktree=wt))
    assert start.head_sha == repo.rev("plait/t9")
    assert (start.commits, start.dirty) == ((), ())
    repo.commit({"c.txt": "sea\n"}, "half the work", cwd=wt)
    (Path(wt) / "a.txt").write_text("changed\n")
    (Path(wt) / "new.txt").write_text("new\n")
    left = asyncio.run(ws.work_state(worktree=wt, since=start.head_sha))
    assert left.head_sha == repo.rev("plait/t9")
    assert [c.split(" ", 1)[1] for c in left.commits] == ["half the work"]
    assert sorted(left.dirty) == ["a.txt", "new.txt"]
