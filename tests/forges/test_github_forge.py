"""GitHubForge against the GitHub double: real HTTP, real bare git repos, GitHub's schema."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from plait.core.model import CIStatus
from plait.errors import ForgeError
from plait.forges.base import Forge, MergeBlocked
from plait.forges.github import queries
from plait.forges.github.client import TransientError
from plait.forges.github.forge import GitHubForge
from plait.forges.github.mapping import marker
from plait.forges.github.token import Token
from plait.forges.github.writes import replace_label
from plait.plans.risk import is_risk_label
from plait.sources.issue_writer import is_status_label
from plait.testing.github_double import Annotation, Check, Fault, GitHubDouble
from plait.testing.gitrepo import GitRepo, run_git

T = TypeVar("T")
OWN, R = "acme", "app"


@dataclass
class Env:
    gh: GitHubDouble
    clone: GitRepo
    tmp: Path
    sleeps: list[float] = field(default_factory=list)

    def forge(self) -> GitHubForge:
        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        return GitHubForge(
            str(self.clone.path), token=Token("t0k"), api_url=self.gh.api_url, sleep=sleep
        )

    def branch(self, name: str, files: dict[str, str], base: str = "main") -> str:
        """A branch with one commit on top of `base`, not pushed."""
        self.clone.git("checkout", "-q", "-B", name, base)
        sha = self.clone.commit(files, f"work on {name}")
        self.clone.git("checkout", "-q", "main")
        return sha

    def run(self, forge: GitHubForge, coro: Awaitable[T]) -> T:
        async def go() -> T:
            return await coro

        return asyncio.run(go())


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with GitHubDouble(root=tmp_path / "gh") as gh:
        gh.create_repo(OWN, R, {"a.py": "one\ntwo\nthree\n"})
        run_git("clone", "-q", gh.repo_remote_url(OWN, R), str(tmp_path / "clone"), cwd=tmp_path)
        clone = GitRepo(tmp_path / "clone")
        clone.git("config", "user.name", "t")
        clone.git("config", "user.email", "t@example.invalid")
        yield Env(gh, clone, tmp_path)


def someone_pushes(env: Env, branch: str) -> None:
    """Another person pushes a commit onto `branch` on GitHub from their own clone."""
    other = env.tmp / "other"
    run_git("clone", "-q", "-b", branch, env.gh.repo_remote_url(OWN, R), str(other), cwd=env.tmp)
    run_git("-c", "user.name=o", "-c", "user.email=o@x.invalid", "commit", "-q",
            "--allow-empty", "-m", "theirs", cwd=other)  # fmt: skip
    run_git("push", "-q", "origin", branch, cwd=other)


def call(forge: GitHubForge, coro: Awaitable[T]) -> T:
    """Run one forge call in a fresh loop, then close the forge's HTTP client."""

    async def go() -> T:
        try:
            return await coro
        finally:
            await forge.close()

    return asyncio.run(go())


async def opened(forge: GitHubForge, env: Env, name: str, base: str = "main") -> int:
    await forge.push(branch=name, worktree=str(env.clone.path), force=False)
    view = await forge.open_pr(task=name, branch=name, base=base, title=name, body="b")
    return view.number


def test_github_forge_is_a_forge(env: Env) -> None:
    forge: Forge = env.forge()
    assert forge.name == "github"
    call(env.forge(), env.forge().close())


def test_owner_and_repo_come_from_the_file_remote(env: Env) -> None:
    forge = env.forge()
    assert (forge.id.owner, forge.id.name) == (OWN, R)
    call(forge, forge.serve())


def test_open_pr_opens_a_draft_and_reuses_it(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> tuple[int, int, bool]:
        first = await opened(forge, env, "t1")
        again = await forge.open_pr(task="t1", branch="t1", base="main", title="t", body="b")
        return first, again.number, again.draft

    first, again, draft = call(forge, flow())
    assert (again, draft, len(env.gh.pulls(OWN, R))) == (first, True, 1)


def test_open_pr_after_a_crash_reuses_the_pr_github_already_has(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    env.clone.git("push", "-q", "origin", "t1")
    made = env.gh.open_pr(OWN, R, head="t1", title="t1", draft=True, author="plait-user")
    forge = env.forge()
    view = call(forge, forge.open_pr(task="t1", branch="t1", base="main", title="t", body=""))
    assert (view.number, len(env.gh.pulls(OWN, R))) == (made.number, 1)


def test_push_returns_the_head_on_github(env: Env) -> None:
    sha = env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()
    pushed = call(forge, forge.push(branch="t1", worktree=str(env.clone.path), force=False))
    assert (pushed, env.gh.branch_sha(OWN, R, "t1")) == (sha, sha)


def test_force_push_with_lease_refuses_to_overwrite_someone_elses_push(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()
    call(forge, forge.push(branch="t1", worktree=str(env.clone.path), force=False))
    someone_pushes(env, "t1")
    env.branch("t1", {"b.py": "rewritten\n"})  # a rebase-like rewrite of t1 locally
    forge = env.forge()
    with pytest.raises(ForgeError, match="stale info"):
        call(forge, forge.push(branch="t1", worktree=str(env.clone.path), force=True))


def test_force_push_after_a_rewrite_succeeds(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()
    call(forge, forge.push(branch="t1", worktree=str(env.clone.path), force=False))
    sha = env.branch("t1", {"b.py": "rewritten\n"})
    forge = env.forge()
    call(forge, forge.push(branch="t1", worktree=str(env.clone.path), force=True))
    assert env.gh.branch_sha(OWN, R, "t1") == sha


FAILING = Check(
    name="tests",
    conclusion="failure",
    title="1 test failed",
    summary="test_a failed",
    annotations=(Annotation(path="a.py", line=2, message="assert 1 == 2"),),
    log="setup\nrunning tests\nFAILED test_a - assert 1 == 2\n",
)


def test_ci_failure_evidence_has_annotations_and_log(env: Env) -> None:
    sha = env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> str:
        number = await opened(forge, env, "t1")
        env.gh.set_check_runs(OWN, R, sha, [FAILING, Check(name="lint")])
        views = await forge.poll({"t1": number})
        assert views["t1"].ci is CIStatus.FAILED
        return views["t1"].ci_evidence

    evidence = call(forge, flow())
    assert "a.py:2 assert 1 == 2" in evidence
    assert "FAILED test_a - assert 1 == 2" in evidence


def test_each_failure_is_fetched_once(env: Env) -> None:
    sha = env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> None:
        number = await opened(forge, env, "t1")
        env.gh.set_check_runs(OWN, R, sha, [FAILING])
        await forge.poll({"t1": number})
        forge.poller.mark_dirty(number)  # force a re-read of the PR itself
        await forge.poll({"t1": number})

    call(forge, flow())
    logs = [r for r in env.gh.requests if "/actions/jobs/" in r.path]
    details = [r for r in env.gh.requests_where(path="/graphql")
               if "CheckDetails" in (r.graphql_document or "")]  # fmt: skip
    assert (len(logs), len(details)) == (1, 1)


def test_ci_passes_and_pending(env: Env) -> None:
    sha = env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> list[CIStatus]:
        number = await opened(forge, env, "t1")
        seen = [(await forge.poll({"t1": number}))["t1"].ci]
        env.gh.set_check_runs(OWN, R, sha, [Check(name="tests", conclusion=None)])
        seen.append((await forge.poll({"t1": number}))["t1"].ci)
        env.gh.set_check_runs(OWN, R, sha, [Check(name="tests", conclusion="success")])
        seen.append((await forge.poll({"t1": number}))["t1"].ci)
        return seen

    assert call(forge, flow()) == [CIStatus.NONE, CIStatus.PENDING, CIStatus.PASSED]


def test_thread_reply_and_resolve_happen_once(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> tuple[str, int]:
        number = await opened(forge, env, "t1")
        thread = env.gh.add_review_thread(OWN, R, number, path="b.py", line=1, body="rename")
        views = await forge.poll({"t1": number})
        (seen,) = views["t1"].threads
        await forge.resolve_threads(number, (seen.id,), "renamed", key="eff-1")
        env.gh.resolve_thread(thread.node_id, resolved=False)  # as if the resolve was lost
        await forge.resolve_threads(number, (seen.id,), "renamed", key="eff-1")
        after = await forge.poll({"t1": number})
        assert after["t1"].threads == ()
        return thread.node_id, number

    thread_id, _ = call(forge, flow())
    bodies = [c.body for c in env.gh.thread(thread_id).comments]
    assert sum(marker("eff-1") in b for b in bodies) == 1
    assert env.gh.thread(thread_id).resolved


def test_unresolved_thread_reaches_the_view_with_path_line_author(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> tuple[str | None, int | None, str, str]:
        number = await opened(forge, env, "t1")
        env.gh.add_review_thread(OWN, R, number, path="b.py", line=1, body="why?", author="ann")
        (t,) = (await forge.poll({"t1": number}))["t1"].threads
        return t.path, t.line, t.author, t.body

    assert call(forge, flow()) == ("b.py", 1, "ann", "ann: why?")


def test_changes_requested_review_is_a_thread_and_answered_once(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> tuple[str, int]:
        number = await opened(forge, env, "t1")
        env.gh.submit_review(OWN, R, number, "CHANGES_REQUESTED", "needs tests", author="bo")
        (t,) = (await forge.poll({"t1": number}))["t1"].threads
        for _ in range(2):
            await forge.resolve_threads(number, (t.id,), "added tests", key="eff-9")
        return t.body, number

    body, number = call(forge, flow())
    comments = env.gh.pr(OWN, R, number).comments
    assert (body, len(comments)) == ("bo: needs tests", 1)


def test_merge_squashes_with_the_expected_head_and_is_idempotent(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> tuple[str, str]:
        number = await opened(forge, env, "t1")
        await forge.mark_ready(number)
        first = await forge.merge(number, title="Task one")
        return first, await forge.merge(number, title="Task one")

    first, second = call(forge, flow())
    assert (second, env.gh.branch_sha(OWN, R, "main")) == (first, first)


def test_merge_caps_a_long_title_in_the_commit_subject(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()
    title = "Task " + "with a title that goes on " * 6

    async def flow() -> tuple[int, str]:
        number = await opened(forge, env, "t1")
        await forge.mark_ready(number)
        return number, await forge.merge(number, title=title)

    number, sha = call(forge, flow())
    env.clone.git("fetch", "-q", "origin", "main")
    subject = env.clone.git("log", "-1", "--format=%s", sha).strip()
    assert len(subject) <= 72
    assert subject.endswith(f"… (#{number})")


def test_merge_refuses_when_the_head_moved(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> None:
        number = await opened(forge, env, "t1")
        await forge.mark_ready(number)
        someone_pushes(env, "t1")
        await forge.merge(number, title="t")

    with pytest.raises(MergeBlocked, match="head moved"):
        call(forge, flow())


def test_merge_of_a_draft_is_blocked(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> None:
        await forge.merge(await opened(forge, env, "t1"), title="t")

    with pytest.raises(MergeBlocked, match="draft"):
        call(forge, flow())


def test_merge_queue_enqueues_then_reports_the_merge(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    env.gh.enable_merge_queue(OWN, R)
    forge = env.forge()

    async def flow() -> tuple[str, str]:
        number = await opened(forge, env, "t1")
        await forge.mark_ready(number)
        with pytest.raises(MergeBlocked, match="merge queue"):
            await forge.merge(number, title="t")
        env.gh.process_merge_queue(OWN, R)
        return await forge.merge(number, title="t"), str(env.gh.branch_sha(OWN, R, "main"))

    merged, main = call(forge, flow())
    assert merged == main


def test_retarget_moves_the_base(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    env.branch("t2", {"c.py": "y\n"}, base="t1")
    forge = env.forge()

    async def flow() -> tuple[int, str]:
        await forge.push(branch="t1", worktree=str(env.clone.path), force=False)
        child = await opened(forge, env, "t2", base="t1")
        await forge.retarget(child, "main")
        return child, (await forge.poll({"t2": child}))["t2"].base

    child, base = call(forge, flow())
    assert (base, env.gh.pr(OWN, R, child).base) == ("main", "main")


def test_branch_is_deleted_only_after_no_pr_targets_it(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    env.branch("t2", {"c.py": "y\n"}, base="t1")
    forge = env.forge()

    async def flow() -> tuple[bool, bool]:
        await forge.push(branch="t1", worktree=str(env.clone.path), force=False)
        child = await opened(forge, env, "t2", base="t1")
        refused = await forge.delete_branch("t1")
        await forge.retarget(child, "main")
        return refused, await forge.delete_branch("t1")

    assert call(forge, flow()) == (False, True)
    assert env.gh.branch_sha(OWN, R, "t1") is None


@pytest.fixture
def sixty(env: Env) -> dict[str, int]:
    """Sixty open PRs on the double, each on its own pushed branch."""
    names = [f"t{i}" for i in range(60)]
    for name in names:
        env.branch(name, {f"{name}.txt": name})
    env.clone.git("push", "-q", "origin", *names)
    return {n: env.gh.open_pr(OWN, R, head=n, title=n, draft=True).number for n in names}


def test_sixty_prs_are_read_in_two_graphql_requests_then_idle_costs_nothing(
    env: Env, sixty: dict[str, int]
) -> None:
    forge = env.forge()

    async def flow() -> tuple[int, int]:
        views = await forge.poll(sixty)
        graphql = len(env.gh.requests_where(path="/graphql"))
        env.gh.clear_requests()
        await forge.poll(sixty)
        return len(views), graphql

    assert call(forge, flow()) == (60, 2)
    assert [(r.method, r.path, r.status) for r in env.gh.requests if r.status != 304] == []


def test_server_errors_are_retried(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> int:
        number = await opened(forge, env, "t1")
        env.gh.inject(Fault.server_error(502, route="graphql", times=2))
        return len(await forge.poll({"t1": number}))

    assert call(forge, flow()) == 1


def test_secondary_limit_waits_retry_after(env: Env) -> None:
    forge = env.forge()
    env.gh.inject(Fault.secondary_rate_limit(retry_after=17))
    call(forge, forge.poll({"x": 1}))
    assert env.sleeps == [17.0]


def test_primary_limit_waits_for_the_reset(env: Env) -> None:
    forge = env.forge()
    env.gh.inject(Fault.primary_rate_limit(reset_in=100))
    call(forge, forge.poll({"x": 1}))
    (slept,) = env.sleeps
    assert 90 <= slept <= 102


def test_reply_whose_answer_was_lost_is_not_duplicated(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> str:
        number = await opened(forge, env, "t1")
        thread = env.gh.add_review_thread(OWN, R, number, path="b.py", line=1, body="rename")
        state = await forge.client.graphql(queries.THREADS_STATE, {"ids": [thread.node_id]})
        # GitHub takes the reply but its answer never arrives.
        env.gh.inject(Fault.lost_answer(route="graphql"))
        with pytest.raises(TransientError):
            await forge.writer.answer_thread(state["nodes"][0], "done", "eff-2")
        assert [c.body for c in env.gh.thread(thread.node_id).comments][-1].startswith("done")
        await forge.resolve_threads(number, (thread.node_id,), "done", key="eff-2")
        return thread.node_id

    thread_id = call(forge, flow())
    bodies = [c.body for c in env.gh.thread(thread_id).comments]
    assert sum(marker("eff-2") in b for b in bodies) == 1
    assert env.gh.thread(thread_id).resolved


def test_resolved_after_the_lost_answer(env: Env) -> None:
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> str:
        number = await opened(forge, env, "t1")
        thread = env.gh.add_review_thread(OWN, R, number, path="b.py", line=1, body="rename")
        env.gh.reply_to_thread(thread.node_id, "done\n\n" + marker("eff-3"), author="plait-user")
        await forge.resolve_threads(number, (thread.node_id,), "done", key="eff-3")
        return thread.node_id

    thread = env.gh.thread(call(forge, flow()))
    assert thread.resolved
    # The reply made before the answer was lost is the only one: none is posted again.
    assert sum(marker("eff-3") in c.body for c in thread.comments) == 1


def test_a_comment_in_the_same_second_as_the_last_poll_is_not_missed(env: Env) -> None:
    """`updated_at` has one-second granularity: the PR list can't show a second change
    within that second, so a recently changed PR's own view is asked for (free on 304)."""
    env.branch("t1", {"b.py": "x\n"})
    forge = env.forge()

    async def flow() -> tuple[int, int]:
        number = await opened(forge, env, "t1")
        await forge.poll({"t1": number})
        pr = env.gh.pr(OWN, R, number)
        stamp = pr.updated_at
        env.gh.add_review_thread(OWN, R, number, path="b.py", line=1, body="late", author="ann")
        pr.updated_at = stamp  # the change landed within the same second
        seen = len((await forge.poll({"t1": number}))["t1"].threads)
        env.gh.clear_requests()
        await forge.poll({"t1": number})  # nothing new: every request is a 304
        spent = sum(1 for r in env.gh.requests if not r.not_modified)
        return seen, spent

    assert call(forge, flow()) == (1, 0)


def test_replace_label_swaps_one_family_and_leaves_the_others(env: Env) -> None:
    """Risk tiers and issue statuses share the `plait:` prefix and one issue can carry
    both, next to the pick-up label: each swap takes off only its own family."""
    env.gh.create_issue(OWN, R, "Fix", labels=["plait", "plait:running", "plait:risk-low"])
    forge = env.forge()

    async def flow() -> None:
        await forge.replace_label(1, "plait:risk-human", is_risk_label)
        await replace_label(forge.client, f"{OWN}/{R}", 1, "plait:done", is_status_label)
        await replace_label(forge.client, f"{OWN}/{R}", 1, "plait:done", is_status_label)

    call(forge, flow())
    assert env.gh.issue(OWN, R, 1).labels == ["plait", "plait:risk-human", "plait:done"]
    forge = env.forge()
    call(forge, replace_label(forge.client, f"{OWN}/{R}", 1, "", is_status_label))
    assert env.gh.issue(OWN, R, 1).labels == ["plait", "plait:risk-human"]
