"""LocalForge against real git and real SQLite in temp dirs."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait.core.model import CIStatus, PRView
from plait.errors import ForgeError
from plait.forges.base import Forge, MergeBlocked
from plait.forges.local import NO_CI, LocalForge
from plait.forges.local_merge import squash_merge
from plait.store.sqlite import Store
from plait.testing.gitrepo import GitRepo, isolated_home_env
from plait.testing.loop_clock import SkippingLoop, run_skipping
from plait.workspaces.base import Workspaces
from plait.workspaces.worktrees import GitWorkspaces

CHECK = [
    sys.executable,
    "-c",
    "import os, pathlib, sys\n"
    "print('checking', os.environ.get('PLAIT_CI_SHA', '')[:7], os.environ.get('SECRET_X'))\n"
    "sys.exit(0 if pathlib.Path('check.txt').read_text().strip() == 'ok' else 3)\n",
]


class Env:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.repo = GitRepo.init(tmp / "repo", files={"a.txt": "one\n", "check.txt": "ok\n"})
        self.db = str(tmp / "project.db")
        self.ws = GitWorkspaces(str(self.repo.path), str(tmp / "wt"), "main")
        self.worktrees: dict[str, str] = {}
        self.forges: list[LocalForge] = []

    def forge(
        self,
        *,
        ci_command: list[str] | None = None,
        ci_timeout: float = 600,
        demo_reviews: dict[str, list[str]] | None = None,
    ) -> LocalForge:
        forge = LocalForge(
            self.db,
            str(self.repo.path),
            ci_command=ci_command,
            ci_timeout=ci_timeout,
            demo_reviews=demo_reviews,
        )
        self.forges.append(forge)
        return forge

    def branch(self, task: str, files: dict[str, str], base: str = "main") -> str:
        """Create or extend task branch `plait/<task>` with one commit of `files`."""
        prep = asyncio.run(self.ws.prepare(task=task, branch=f"plait/{task}", base_branch=base))
        self.worktrees[task] = prep.path
        return self.repo.commit(files, f"{task}: change {', '.join(files)}", cwd=prep.path)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SECRET_X", "leaked")
    made = Env(tmp_path)
    yield made
    for forge in made.forges:
        forge.close_sync()


def open_pr(forge: LocalForge, task: str, base: str = "main") -> int:
    view = asyncio.run(
        forge.open_pr(task=task, branch=f"plait/{task}", base=base, title=f"Do {task}", body="b")
    )
    return view.number


def poll1(forge: LocalForge, task: str, number: int) -> PRView:
    return asyncio.run(forge.poll({task: number}))[task]


def test_open_pr_is_idempotent_across_instances(env: Env) -> None:
    head = env.branch("t1", {"b.txt": "bee\n"})
    forge = env.forge()
    view = asyncio.run(
        forge.open_pr(task="t1", branch="plait/t1", base="main", title="T1", body="body")
    )
    assert (view.number, view.draft, view.state, view.head_sha) == (1, True, "open", head)
    assert view.ci == CIStatus.PASSED  # no ci_command: passes at once
    assert open_pr(forge, "t1") == 1
    other = env.forge()
    assert open_pr(other, "t1") == 1
    env.branch("t2", {"c.txt": "sea\n"})
    assert open_pr(other, "t2") == 2
    assert forge.find_pr("t1") == 1
    assert [p["number"] for p in forge.list_prs()] == [1, 2]
    assert env.repo.rev("refs/plait/pr/1/head") == head


def test_open_pr_concurrent_and_unique_constraint(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n"})
    a, b = env.forge(), env.forge()

    async def both() -> list[int]:
        views = await asyncio.gather(
            a.open_pr(task="t1", branch="plait/t1", base="main", title="x", body=""),
            b.open_pr(task="t1", branch="plait/t1", base="main", title="x", body=""),
        )
        return [v.number for v in views]

    assert asyncio.run(both()) == [1, 1]
    conn = sqlite3.connect(env.db)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO forge_prs (task, branch, base, title, created_at, updated_at) "
            "VALUES ('t1', 'plait/t1', 'main', 'dup', 0, 0)"
        )
    conn.close()


def test_push_updates_head_queues_ci_and_rejects_non_ff(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n"})
    forge = env.forge(ci_command=CHECK)
    number = open_pr(forge, "t1")
    assert poll1(forge, "t1", number).ci == CIStatus.PENDING
    second = env.branch("t1", {"b.txt": "bee 2\n"})
    pushed = asyncio.run(forge.push(branch="plait/t1", worktree=env.worktrees["t1"], force=False))
    assert pushed == second
    view = poll1(forge, "t1", number)
    assert view.head_sha == second
    assert view.ci == CIStatus.PENDING
    assert env.repo.rev(f"refs/plait/pr/{number}/head") == second
    # the first head's queued run was superseded: only one run happens
    assert asyncio.run(forge.run_pending_ci_once()) == 1
    assert poll1(forge, "t1", number).ci == CIStatus.PASSED
    # rewrite history: a plain push is refused, a forced one accepted
    env.repo.git("reset", "-q", "--hard", "HEAD~1", cwd=env.worktrees["t1"])
    rewritten = env.repo.commit({"b.txt": "other\n"}, "rewrite", cwd=env.worktrees["t1"])
    with pytest.raises(ForgeError, match="non-fast-forward"):
        asyncio.run(forge.push(branch="plait/t1", worktree=env.worktrees["t1"], force=False))
    assert asyncio.run(forge.push(branch="plait/t1", worktree="", force=True)) == rewritten
    assert env.repo.rev(f"refs/plait/pr/{number}/head") == rewritten
    # the pinned ref keeps the old head alive for the record
    assert poll1(forge, "t1", number).head_sha == rewritten


def test_ci_fail_then_pass_with_real_command(env: Env) -> None:
    first = env.branch("t1", {"check.txt": "broken\n"})
    Path(env.worktrees["t1"], "check.txt").write_text("ok\n")  # uncommitted: CI must not see it
    forge = env.forge(ci_command=CHECK)
    number = open_pr(forge, "t1")
    asyncio.run(forge.run_pending_ci_once())
    view = poll1(forge, "t1", number)
    assert view.ci == CIStatus.FAILED
    assert view.ci_evidence.startswith(f"CI command `{forge.ci.command[0]}")
    assert f"failed (exit 3) on {first[:7]}:\n" in view.ci_evidence
    assert f"checking {first[:7]} None" in view.ci_evidence  # env is clean, sha passed
    fixed = env.branch("t1", {"check.txt": "ok\n"})
    asyncio.run(forge.push(branch="plait/t1", worktree=env.worktrees["t1"], force=False))
    assert poll1(forge, "t1", number).ci == CIStatus.PENDING
    asyncio.run(forge.run_pending_ci_once())
    view = poll1(forge, "t1", number)
    assert view.ci == CIStatus.PASSED
    assert view.ci_evidence == ""
    assert view.head_sha == fixed


def test_ci_timeout_is_a_failure(env: Env, tmp_path: Path) -> None:
    """The build has an hour; once it has printed, the test skips the hour (no race
    between the interpreter's start-up and a short timeout)."""
    env.branch("t1", {"b.txt": "bee\n"})
    started = tmp_path / "started"
    sleeper = [
        sys.executable,
        "-c",
        "import pathlib, time\n"
        "print('build', 'began', flush=True)\n"  # "build began" is not in the command
        f"pathlib.Path({str(started)!r}).touch()\n"
        "time.sleep(600)\n",
    ]
    forge = env.forge(ci_command=sleeper, ci_timeout=3600)
    number = open_pr(forge, "t1")

    async def build_then_skip_the_hour(loop: SkippingLoop) -> None:
        build = asyncio.create_task(forge.run_pending_ci_once())
        while not started.exists():
            assert not build.done(), build.result()
            await asyncio.sleep(0.01)
        loop.skip(3600)
        await build

    run_skipping(build_then_skip_the_hour)
    view = poll1(forge, "t1", number)
    assert view.ci == CIStatus.FAILED
    assert "timed out after 3600s" in view.ci_evidence
    assert "build began" in view.ci_evidence  # what it printed before it was stopped


def test_serve_runs_queued_and_recovers_crashed_runs(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n"})
    crashed = env.forge(ci_command=CHECK)
    number = open_pr(crashed, "t1")
    assert crashed.db.claim_ci() is not None  # a run marked running, then the process died
    forge = env.forge(ci_command=CHECK)
    assert poll1(forge, "t1", number).ci == CIStatus.PENDING

    async def serve_until_done() -> CIStatus:
        server = asyncio.create_task(forge.serve())
        try:
            for _ in range(600):
                status = (await forge.poll({"t1": number}))["t1"].ci
                if status != CIStatus.PENDING:
                    return status
                await asyncio.sleep(0.05)
            return CIStatus.PENDING
        finally:
            server.cancel()
            with pytest.raises(asyncio.CancelledError):
                await server

    assert asyncio.run(serve_until_done()) == CIStatus.PASSED


def test_no_ci_summary(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n"})
    forge = env.forge()
    number = open_pr(forge, "t1")
    run = forge.db.ci_run(number, env.repo.rev("plait/t1"))
    assert run is not None
    assert run.output == NO_CI


def test_poll_mergeable_and_unknown_pr(env: Env) -> None:
    env.branch("clean", {"b.txt": "bee\n"})
    env.branch("clash", {"a.txt": "branch\n"})
    env.repo.commit({"a.txt": "main\n"}, "main edit")
    forge = env.forge()
    n1, n2 = open_pr(forge, "clean"), open_pr(forge, "clash")
    views = asyncio.run(forge.poll({"clean": n1, "clash": n2, "ghost": 99}))
    assert views["clean"].mergeable is True
    assert views["clash"].mergeable is False
    assert "ghost" not in views


def test_review_comment_thread_resolve(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n", "c.txt": "sea\n"})
    forge = env.forge()
    number = open_pr(forge, "t1")
    cli = env.forge()  # `plait review` runs in another process with its own instance
    t_line = cli.add_review_comment(pr=number, body="rename this", path="b.txt", line=1)
    t_conv = cli.add_review_comment(pr=number, body="overall: fine", author="alice")
    assert t_line != t_conv
    threads = poll1(forge, "t1", number).threads
    assert [(t.id, t.body, t.author, t.path, t.line) for t in threads] == [
        (t_line, "rename this", "human", "b.txt", 1),
        (t_conv, "overall: fine", "alice", None, None),
    ]
    assert not any(t.outdated for t in threads)
    env.branch("t1", {"b.txt": "renamed\n"})
    asyncio.run(forge.push(branch="plait/t1", worktree="", force=False))
    threads = poll1(forge, "t1", number).threads
    assert [t.outdated for t in threads] == [True, False]
    asyncio.run(forge.resolve_threads(number, (t_line,), "done"))
    asyncio.run(forge.resolve_threads(number, (t_line,), "again"))
    assert [t.id for t in poll1(forge, "t1", number).threads] == [t_conv]
    stored = forge.db.threads(number, unresolved_only=False)
    assert [(t.id, t.reply) for t in stored if t.resolved] == [(t_line, "done")]
    with pytest.raises(ForgeError):
        cli.add_review_comment(pr=42, body="x")


def test_review_comment_must_point_into_the_pr(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\nbuzz\n"})
    number = open_pr(env.forge(), "t1")
    cli = env.forge()
    with pytest.raises(ForgeError, match=r"no file 'nope\.txt'"):
        cli.add_review_comment(pr=number, body="rename", path="nope.txt", line=1)
    with pytest.raises(ForgeError, match="there is no line 3"):
        cli.add_review_comment(pr=number, body="rename", path="b.txt", line=3)
    assert cli.add_review_comment(pr=number, body="whole file", path="b.txt")
    assert len(cli.db.threads(number)) == 1


def test_mark_ready_posts_demo_reviews_once(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n"})
    forge = env.forge(demo_reviews={"t1": ["add a test", "name things"]})
    number = open_pr(forge, "t1")
    assert poll1(forge, "t1", number).threads == ()
    asyncio.run(forge.mark_ready(number))
    asyncio.run(forge.mark_ready(number))
    view = poll1(forge, "t1", number)
    assert view.draft is False
    assert [(t.id, t.author) for t in view.threads] == [
        ("demo-t1-1", "demo-reviewer"),
        ("demo-t1-2", "demo-reviewer"),
    ]
    asyncio.run(forge.resolve_threads(number, ("demo-t1-1", "demo-t1-2"), "ok"))
    asyncio.run(env.forge(demo_reviews={"t1": ["again"]}).mark_ready(number))
    assert poll1(forge, "t1", number).threads == ()


def test_merge_squashes_onto_checked_out_main(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n"})
    env.branch("t1", {"c.txt": "sea\n"})
    forge = env.forge()
    number = open_pr(forge, "t1")
    old_main = env.repo.rev("main")
    with pytest.raises(MergeBlocked, match="draft"):
        asyncio.run(forge.merge(number, title="Add b and c"))
    asyncio.run(forge.mark_ready(number))
    merged = asyncio.run(forge.merge(number, title="Add b and c"))
    assert env.repo.rev("main") == merged
    assert env.repo.git("log", "-1", "--format=%P", merged).split() == [old_main]
    message = env.repo.git("log", "-1", "--format=%B", merged)
    assert (
        message.strip() == f"Add b and c (#{number})\n\nPlait-PR: {number}\nPlait-Branch: plait/t1"
    )
    # the user's checkout was advanced, files and all, and is clean
    assert Path(env.repo.path, "c.txt").read_text() == "sea\n"
    assert env.repo.status() == ""
    view = poll1(forge, "t1", number)
    assert (view.state, view.merge_sha) == ("merged", merged)
    assert asyncio.run(forge.merge(number, title="again")) == merged
    assert env.repo.rev("main") == merged


def test_merge_caps_a_long_title_in_the_subject_and_finds_it_again(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n"})
    forge = env.forge()
    number = open_pr(forge, "t1")
    asyncio.run(forge.mark_ready(number))
    title = "Add " + "a very long description of b " * 6
    merged = asyncio.run(forge.merge(number, title=title))
    subject = env.repo.git("log", "-1", "--format=%s", merged).strip()
    assert len(subject) <= 72
    assert subject.endswith(f"… (#{number})")
    assert asyncio.run(forge.merge(number, title=title)) == merged  # found by its trailer


def test_merge_blocked_by_dirty_checkout_changes_nothing(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n"})
    forge = env.forge()
    number = open_pr(forge, "t1")
    asyncio.run(forge.mark_ready(number))
    Path(env.repo.path, "a.txt").write_text("user edit\n")
    old_main = env.repo.rev("main")
    with pytest.raises(MergeBlocked, match="uncommitted changes") as info:
        asyncio.run(forge.merge(number, title="t"))
    assert str(env.repo.path) in info.value.reason
    assert info.value.held  # the user's checkout holds it: the merge waits, not fails
    assert env.repo.rev("main") == old_main
    assert Path(env.repo.path, "a.txt").read_text() == "user edit\n"
    assert poll1(forge, "t1", number).state == "open"


def test_merge_with_main_not_checked_out_and_conflict(env: Env) -> None:
    env.repo.git("checkout", "-q", "-b", "user-work")
    Path(env.repo.path, "a.txt").write_text("dirty but elsewhere\n")
    env.branch("t1", {"b.txt": "bee\n"})
    env.branch("t2", {"a.txt": "t2 edit\n"})
    forge = env.forge()
    n1, n2 = open_pr(forge, "t1"), open_pr(forge, "t2")
    for n in (n1, n2):
        asyncio.run(forge.mark_ready(n))
    old_main = env.repo.rev("main")
    merged = asyncio.run(forge.merge(n1, title="t1"))
    assert env.repo.rev("main") == merged
    assert env.repo.git("log", "-1", "--format=%P", merged).split() == [old_main]
    assert Path(env.repo.path, "a.txt").read_text() == "dirty but elsewhere\n"
    # main moves underneath t2 in a conflicting way
    env.repo.git("checkout", "-q", "main", "--", ".")
    env.repo.git("update-ref", "refs/heads/main", env.branch("t3", {"a.txt": "t3 edit\n"}))
    assert poll1(forge, "t2", n2).mergeable is False
    with pytest.raises(MergeBlocked, match="conflicts with main"):
        asyncio.run(forge.merge(n2, title="t2"))


def test_merge_idempotent_after_crash_before_recording(env: Env) -> None:
    head = env.branch("t1", {"b.txt": "bee\n"})
    forge = env.forge()
    number = open_pr(forge, "t1")
    asyncio.run(forge.mark_ready(number))
    # the ref moved, then the process died before the forge recorded the merge
    landed = asyncio.run(
        squash_merge(
            str(env.repo.path),
            number=number,
            branch="plait/t1",
            base="main",
            head=head,
            title="t1",
        )
    )
    env.repo.commit({"later.txt": "x\n"}, "someone lands after")
    restarted = env.forge()
    assert asyncio.run(restarted.merge(number, title="t1")) == landed
    assert env.repo.git("rev-list", "--count", "--grep=Plait-PR", "main").strip() == "1"
    assert poll1(restarted, "t1", number).merge_sha == landed


def test_stacked_pr_retarget_rebase_merge(env: Env) -> None:
    env.branch("a", {"a.txt": "from A\n"})
    b_prep = asyncio.run(env.ws.prepare(task="b", branch="plait/b", base_branch="plait/a"))
    env.worktrees["b"] = b_prep.path
    env.repo.commit({"b.txt": "from B\n"}, "B work", cwd=b_prep.path)
    forge = env.forge()
    na, nb = open_pr(forge, "a"), open_pr(forge, "b", base="plait/a")
    assert poll1(forge, "b", nb).base == "plait/a"
    for n in (na, nb):
        asyncio.run(forge.mark_ready(n))
    merged_a = asyncio.run(forge.merge(na, title="A"))
    asyncio.run(forge.retarget(nb, "main"))
    out = asyncio.run(
        env.ws.rebase(worktree=b_prep.path, branch="plait/b", onto="main", upstream=b_prep.base_sha)
    )
    assert out.ok
    asyncio.run(forge.push(branch="plait/b", worktree=b_prep.path, force=True))
    view = poll1(forge, "b", nb)
    assert (view.base, view.mergeable) == ("main", True)
    merged_b = asyncio.run(forge.merge(nb, title="B"))
    assert env.repo.git("log", "-1", "--format=%P", merged_b).split() == [merged_a]
    assert env.repo.show("main", "a.txt") == "from A\n"
    assert env.repo.show("main", "b.txt") == "from B\n"
    assert env.repo.git("rev-list", "--count", f"{merged_a}..main").strip() == "1"


def test_ci_switched_off_passes_leftover_runs(env: Env) -> None:
    env.branch("t1", {"b.txt": "bee\n"})
    with_ci = env.forge(ci_command=CHECK)
    number = open_pr(with_ci, "t1")
    assert poll1(with_ci, "t1", number).ci == CIStatus.PENDING
    without = env.forge()
    asyncio.run(without.serve())  # returns at once: nothing to run in the background
    assert poll1(without, "t1", number).ci == CIStatus.PASSED


def test_protocols_are_implemented(env: Env) -> None:
    forge: Forge = env.forge()
    workspaces: Workspaces = env.ws
    assert forge.name == "local"
    assert workspaces is env.ws


def test_ci_concurrency_is_bounded(env: Env, tmp_path: Path) -> None:
    """Each build checks in and waits to be let go. Once two are in, the rest must still
    be queued (with no bound every run is claimed before any build starts); then the
    test lets them go, two at a time. No build relies on another overlapping it in time."""
    lanes, go = tmp_path / "lanes", tmp_path / "go"
    lanes.mkdir()
    probe = [
        sys.executable,
        "-c",
        "import os, pathlib, time\n"
        f"lanes, go = pathlib.Path({str(lanes)!r}), pathlib.Path({str(go)!r})\n"
        "(lanes / os.environ['PLAIT_CI_PR']).write_text('')\n"
        "while not go.exists():\n"
        "    time.sleep(0.01)\n",
    ]
    forge = env.forge(ci_command=probe)
    for task in ("t1", "t2", "t3", "t4"):
        env.branch(task, {f"{task}.txt": "x\n"})
        open_pr(forge, task)

    def states() -> list[str]:
        with sqlite3.connect(env.db) as db:
            return sorted(row[0] for row in db.execute("SELECT state FROM forge_ci"))

    async def two_in_then_go() -> tuple[list[str], int]:
        builds = asyncio.create_task(forge.run_pending_ci_once())
        while len(list(lanes.iterdir())) < 2:
            assert not builds.done(), builds.result()
            await asyncio.sleep(0.01)
        seen = states()
        go.touch()
        return seen, await builds

    seen, started = asyncio.run(two_in_then_go())
    assert seen == ["queued", "queued", "running", "running"]
    assert started == 4
    assert all(p["ci"] == "passed" for p in forge.list_prs())


def test_cancelled_serve_kills_build_and_requeues(env: Env, tmp_path: Path) -> None:
    pidfile = tmp_path / "ci.pid"
    hang = [
        sys.executable,
        "-c",
        f"import os, time, pathlib; pathlib.Path({str(pidfile)!r}).write_text(str(os.getpid()));"
        " time.sleep(120)",
    ]
    env.branch("t1", {"b.txt": "bee\n"})
    forge = env.forge(ci_command=hang)
    number = open_pr(forge, "t1")

    async def start_then_cancel() -> None:
        server = asyncio.create_task(forge.serve())
        for _ in range(1200):
            if pidfile.exists() and pidfile.read_text():
                break
            await asyncio.sleep(0.05)
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server

    asyncio.run(start_then_cancel())
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    run = forge.db.ci_run(number, env.repo.rev("plait/t1"))
    assert run is not None
    assert run.state == "queued"


def test_forge_writes_are_as_durable_as_the_store_s_in_the_same_file(env: Env) -> None:
    """Both write one SQLite file (one WAL): a forge at FULL paid an fsync per write while
    the store's writes around it had none; neither is more durable than the other."""
    store = Store(env.db)
    forge = env.forge()
    try:
        synchronous = [
            db.execute("PRAGMA synchronous").fetchone()[0] for db in (store.db, forge.db.conn)
        ]
    finally:
        store.close()
    assert synchronous == [1, 1]  # NORMAL
