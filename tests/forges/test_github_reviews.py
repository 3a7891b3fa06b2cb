"""The reviewer agent's verdict as a real GitHub review, against the GitHub double: by the
reviewer's own identity an approval or a change request whose located issues are line
comments; once per effect id; by plait's own identity (the PR's author) a COMMENT review
and the verdict in the conversation. The poll reads the change request as feedback only
while the head it judged is the PR's head."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from plait.forges.github.forge import GitHubForge
from plait.forges.github.reviews import commentable, line_comments
from plait.forges.github.token import Token
from plait.testing.github_double import GitHubDouble
from plait.testing.gitrepo import GitRepo, run_git

T = TypeVar("T")
OWN, R = "acme", "app"
ISSUES = ("b.py:2 name this `total`", "add a test for the empty list")


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    tokens = {"plait": "plait-bot", "rev": "reviewer-bot"}
    with GitHubDouble(root=tmp_path / "gh", tokens=tokens) as double:
        double.create_repo(OWN, R, {"a.py": "one\n"})
        yield double


@pytest.fixture
def clone(gh: GitHubDouble, tmp_path: Path) -> GitRepo:
    run_git("clone", "-q", gh.repo_remote_url(OWN, R), str(tmp_path / "clone"), cwd=tmp_path)
    repo = GitRepo(tmp_path / "clone")
    repo.git("config", "user.name", "t")
    repo.git("config", "user.email", "t@example.invalid")
    repo.git("checkout", "-q", "-b", "t1")
    repo.commit({"b.py": "x = 1\ny = 2\n"}, "work")
    return repo


def forge(clone: GitRepo, gh: GitHubDouble, *, reviewer: bool) -> GitHubForge:
    return GitHubForge(str(clone.path), token=Token("plait"), api_url=gh.api_url,
                       review_token=Token("rev") if reviewer else None)  # fmt: skip


def call(f: GitHubForge, coro: Awaitable[T]) -> T:
    async def go() -> T:
        try:
            return await coro
        finally:
            await f.close()

    return asyncio.run(go())


async def open_pr(f: GitHubForge, clone: GitRepo) -> int:
    await f.push(branch="t1", worktree=str(clone.path), force=False)
    view = await f.open_pr(task="t1", branch="t1", base="main", title="t1", body="b")
    return view.number


def test_only_issues_on_a_diff_line_become_line_comments() -> None:
    patch = "@@ -0,0 +1,2 @@\n+x = 1\n+y = 2"
    on_diff = {"b.py": commentable(patch)}
    got = line_comments(("b.py:2 rename", "b.py:9 off the diff", "c.py:1 other", "general"),
                        on_diff)  # fmt: skip
    assert on_diff == {"b.py": {1, 2}}
    assert got == [{"path": "b.py", "line": 2, "side": "RIGHT", "body": "rename"}]


def test_a_change_request_is_a_review_with_line_comments_posted_once(
    gh: GitHubDouble, clone: GitRepo
) -> None:
    f = forge(clone, gh, reviewer=True)

    async def flow() -> int:
        number = await open_pr(f, clone)
        for _ in range(2):  # the effect retried after a crash
            await f.post_review(number, approved=False, body="1. …", issues=ISSUES, key="e7")
        return number

    number = call(f, flow())
    pr = gh.pr(OWN, R, number)
    (review,) = pr.reviews
    assert (review.author, review.state) == ("reviewer-bot", "CHANGES_REQUESTED")
    assert [(t.path, t.line, t.comments[0].body) for t in pr.threads] == [
        ("b.py", 2, "name this `total`")
    ]
    assert pr.comments == []


def test_the_change_request_is_feedback_until_the_head_moves_then_an_approval(
    gh: GitHubDouble, clone: GitRepo
) -> None:
    f = forge(clone, gh, reviewer=True)

    async def flow() -> tuple[int, int, int, int]:
        number = await open_pr(f, clone)
        await f.post_review(number, approved=False, body="add a test", issues=ISSUES, key="e1")
        before = (await f.poll({"t1": number}))["t1"]
        clone.commit({"test_b.py": "def test(): pass\n"}, "test")
        await f.push(branch="t1", worktree=str(clone.path), force=False)
        f.poller.mark_dirty(number)
        after = (await f.poll({"t1": number}))["t1"]
        await f.post_review(number, approved=True, body="good", issues=(), key="e2")
        return number, len(before.threads), len(after.threads), len(gh.pr(OWN, R, number).reviews)

    number, before, after, reviews = call(f, flow())
    # Before: the review and its line comment; after the push: only the unresolved thread.
    assert (before, after, reviews) == (2, 1, 2)
    assert gh.pr(OWN, R, number).reviews[-1].state == "APPROVED"


def test_by_the_prs_own_author_a_change_request_falls_back_to_a_comment_review(
    gh: GitHubDouble, clone: GitRepo
) -> None:
    f = forge(clone, gh, reviewer=False)

    async def flow() -> tuple[int, list[bool], int]:
        number = await open_pr(f, clone)
        back = [await f.post_review(number, approved=True, body="fine", issues=(), key="e1")]
        back.append(await f.post_review(number, approved=False, body="add a test",
                                        issues=ISSUES, key="e2"))  # fmt: skip
        view = (await f.poll({"t1": number}))["t1"]
        return number, back, len(view.threads)

    number, back, served = call(f, flow())
    pr = gh.pr(OWN, R, number)
    assert [(r.author, r.state) for r in pr.reviews] == [("plait-bot", "COMMENTED")]
    assert [t.path for t in pr.threads] == ["b.py"]
    assert len(pr.comments) == 1
    assert "add a test" in pr.comments[0].body
    # For people only: the poll serves none of it; the core hands the verdict over.
    assert (back, served) == ([True, False], 0)


def test_a_persons_reply_in_a_thread_of_a_verdict_for_people_comes_back(
    gh: GitHubDouble, clone: GitRepo
) -> None:
    f = forge(clone, gh, reviewer=False)

    async def flow() -> tuple[int, list[str]]:
        number = await open_pr(f, clone)
        await f.post_review(number, approved=False, body="1. …", issues=ISSUES, key="e3")
        alone = len((await f.poll({"t1": number}))["t1"].threads)
        (thread,) = gh.pr(OWN, R, number).threads
        gh.reply_to_thread(thread.node_id, "call it `sum` instead", author="ann")
        f.poller.mark_dirty(number)
        view = (await f.poll({"t1": number}))["t1"]
        return alone, [f"{t.path}:{t.line} {t.body}" for t in view.threads]

    alone, threads = call(f, flow())
    assert alone == 0  # the reviewer's own line comment: for people, not served again
    assert threads == ["b.py:2 ann: call it `sum` instead"]  # a person's reply is


def test_an_approval_resolves_the_threads_plait_opened_for_people(
    gh: GitHubDouble, clone: GitRepo
) -> None:
    """Without a second account the change request is a COMMENT review whose line
    comments stay open threads; a repository that requires conversation resolution would
    refuse the merge. The approval resolves plait's own; one a person wrote in is theirs."""
    f = forge(clone, gh, reviewer=False)
    spoken = ("b.py:1 name this `first`", "b.py:2 name this `total`")

    async def flow() -> int:
        number = await open_pr(f, clone)
        await f.post_review(number, approved=False, body="1. …", issues=spoken, key="e4")
        first, _ = gh.pr(OWN, R, number).threads
        gh.reply_to_thread(first.node_id, "keep it, it is clearer", author="ann")
        await f.post_review(number, approved=True, body="fine", issues=(), key="e5")
        await f.post_review(number, approved=True, body="fine", issues=(), key="e5")
        return number

    number = call(f, flow())
    threads = gh.pr(OWN, R, number).threads
    assert [(t.line, t.resolved, t.resolved_by) for t in threads] == [
        (1, False, None),  # ann's word stays open
        (2, True, "plait-bot"),
    ]


def test_a_merge_first_resolves_the_threads_plait_opened_for_people(
    gh: GitHubDouble, clone: GitRepo
) -> None:
    """Merged without plait's approval (a person's call): the repository requires
    conversation resolution, and plait's own threads would block the merge."""
    gh.protect_branch(OWN, R, "main", required_conversation_resolution=True)
    f = forge(clone, gh, reviewer=False)

    async def flow() -> int:
        number = await open_pr(f, clone)
        await f.post_review(number, approved=False, body="1. …", issues=ISSUES, key="e6")
        await f.mark_ready(number)
        await f.merge(number, title="t1")
        return number

    number = call(f, flow())
    pr = gh.pr(OWN, R, number)
    assert pr.merged
    assert [t.resolved for t in pr.threads] == [True]
