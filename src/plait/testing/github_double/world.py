"""The GitHub double's behaviour: what happens to repos and PRs, shared by REST, GraphQL and
the test-control methods.

How this works: one `World` holds every record behind one re-entrant lock. `sync(repo)` runs
at the start of every request and control call: it re-reads the branch tips from the bare
repo, so a push through the `file://` remote is seen at once, and plays what GitHub does
on a push: a PR's head moves (`updated_at` bumps, review comments on changed lines turn
outdated), a PR whose head landed on its base by push is marked merged, a PR whose head or
base branch was deleted is closed. It also advances the merge queue and auto-merge. Errors
a GitHub client would get back are `ApiError(status, message)`; the HTTP layers render them.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plait.testing.github_double import git_store
from plait.testing.github_double.conversation import ConversationMixin
from plait.testing.github_double.issues import IssuesMixin
from plait.testing.github_double.state import (
    RATE_WINDOW,
    ApiError,
    Bucket,
    CheckRun,
    Issue,
    PullRequest,
    Repo,
    Thread,
    iso,
    node_id,
)
from plait.testing.github_double.status import FAILED, StatusMixin

__all__ = ["FAILED", "ApiError", "World"]

METHOD_WORDS = {"merge": "Merge commits", "squash": "Squash merges", "rebase": "Rebase merges"}


class World(StatusMixin, ConversationMixin, IssuesMixin):
    def __init__(
        self,
        root: Path,
        *,
        core_limit: int = 5000,
        graphql_limit: int = 5000,
        rate_window: float = RATE_WINDOW,
    ) -> None:
        self.root = root
        self.lock = threading.RLock()
        self.repos: dict[str, Repo] = {}
        self.prs: dict[str, dict[int, PullRequest]] = {}
        self.issues: dict[str, dict[int, Issue]] = {}
        self.checks: dict[str, list[CheckRun]] = {}
        self.nodes: dict[str, object] = {}
        self.core = Bucket(resource="core", limit=core_limit, window=rate_window)
        self.graphql = Bucket(resource="graphql", limit=graphql_limit, window=rate_window)
        self._ids = itertools.count(1001)
        self._mergeable: dict[tuple[str, str, str], bool] = {}
        self._syncing = False

    def next_id(self) -> int:
        return next(self._ids)

    def register(self, nid: str, obj: object) -> str:
        self.nodes[nid] = obj
        return nid

    # ---- repos ------------------------------------------------------------------------
    def create_repo(
        self, owner: str, name: str, files: Mapping[str, str], default_branch: str
    ) -> Repo:
        with self.lock:
            key = f"{owner}/{name}"
            if key in self.repos:
                raise ValueError(f"repo {key} exists already")
            path = self.root / owner / f"{name}.git"
            path.parent.mkdir(parents=True, exist_ok=True)
            git_store.create_bare(path, files, default_branch)
            rid = self.next_id()
            repo = Repo(
                id=rid,
                node_id=node_id("R", rid),
                owner=owner,
                name=name,
                path=path,
                default_branch=default_branch,
            )
            self.register(repo.node_id, repo)
            self.repos[key] = repo
            self.prs[key] = {}
            self.issues[key] = {}
            self.checks[key] = []
            repo.tips = git_store.refs(path)
            return repo

    def repo(self, owner: str, name: str) -> Repo:
        repo = self.repos.get(f"{owner}/{name}")
        if repo is None:
            raise ApiError(404, "Not Found")
        return repo

    def pulls(self, repo: Repo) -> list[PullRequest]:
        return list(self.prs[repo.full_name].values())

    def pr(self, repo: Repo, number: int) -> PullRequest:
        found = self.prs[repo.full_name].get(number)
        if found is None:
            raise ApiError(404, "Not Found")
        return found

    def event(self, repo: Repo, kind: str, actor: str, payload: dict[str, Any]) -> None:
        repo.events.append(
            {
                "id": str(self.next_id()),
                "type": kind,
                "actor": {"login": actor, "id": 1},
                "repo": {"id": repo.id, "name": repo.full_name},
                "payload": payload,
                "public": True,
                "created_at": iso(),
            }
        )

    # ---- sync with the bare repo -----------------------------------------------------------
    def sync_all(self) -> None:
        with self.lock:
            for repo in list(self.repos.values()):
                self.sync(repo)

    def sync(self, repo: Repo) -> None:
        with self.lock:
            if self._syncing:
                return
            self._syncing = True
            try:
                self._sync_refs(repo)
                self._advance_merges(repo)
            finally:
                self._syncing = False

    def _sync_refs(self, repo: Repo) -> None:
        old, new = repo.tips, git_store.refs(repo.path)
        repo.tips = new
        for branch in sorted(set(old) | set(new)):
            before, after = old.get(branch), new.get(branch)
            if before == after:
                continue
            ref = f"refs/heads/{branch}"
            if before is None:
                self.event(repo, "CreateEvent", repo.owner, {"ref": branch, "ref_type": "branch"})
            elif after is None:
                self.event(repo, "DeleteEvent", repo.owner, {"ref": branch, "ref_type": "branch"})
            if after is not None:
                payload = {"ref": ref, "before": before or "0" * 40, "head": after}
                self.event(repo, "PushEvent", repo.owner, payload)
            self._branch_moved(repo, branch, after)

    def _branch_moved(self, repo: Repo, branch: str, tip: str | None) -> None:
        for pr in self.pulls(repo):
            if pr.state != "open":
                continue
            if tip is None and branch in (pr.head, pr.base):
                self._close(pr, pr.author)
            elif pr.head == branch and tip is not None and tip != pr.head_sha:
                self._head_moved(pr, tip)
            elif (
                pr.base == branch
                and tip is not None
                and git_store.is_ancestor(repo.path, pr.head_sha, tip)
            ):
                self._mark_merged(pr, tip, pr.author)

    def _head_moved(self, pr: PullRequest, tip: str) -> None:
        path = pr.repo.path
        for thread in pr.threads:
            if thread.outdated:
                continue
            was = git_store.file_line(path, thread.original_commit, thread.path, thread.line)
            now = git_store.file_line(path, tip, thread.path, thread.line)
            if was != now:
                self.outdate(thread)
        pr.head_sha = tip
        pr.touch()

    def outdate(self, thread: Thread) -> None:
        thread.outdated = True
        for comment in thread.comments:
            comment.line = None

    # ---- pull requests -----------------------------------------------------------------------
    def open_pr(
        self, repo: Repo, *, head: str, base: str, title: str, body: str, draft: bool, author: str
    ) -> PullRequest:
        with self.lock:
            self.sync(repo)
            head = head.split(":", 1)[-1]
            for existing in self.pulls(repo):
                if existing.state == "open" and existing.head == head:
                    msg = f"A pull request already exists for {repo.owner}:{head}."
                    raise _invalid(msg, code="custom")
            head_sha, base_sha = repo.tips.get(head), repo.tips.get(base)
            if head_sha is None:
                raise _invalid("head", code="invalid", field="head")
            if base_sha is None:
                raise _invalid("base", code="invalid", field="base")
            if not git_store.commits_between(repo.path, base_sha, head_sha):
                raise _invalid(f"No commits between {base} and {head}", code="custom")
            pid, now = self.next_id(), iso()
            pr = PullRequest(
                id=pid,
                node_id=node_id("PR", pid),
                number=repo.next_number,
                repo=repo,
                title=title,
                body=body,
                head=head,
                base=base,
                head_sha=head_sha,
                author=author,
                draft=draft,
                created_at=now,
                updated_at=now,
            )
            repo.next_number += 1
            self.register(pr.node_id, pr)
            self.prs[repo.full_name][pr.number] = pr
            self.event(repo, "PullRequestEvent", author, {"action": "opened", "number": pr.number})
            return pr

    def update_pr(self, pr: PullRequest, fields: Mapping[str, Any], actor: str) -> None:
        with self.lock:
            if "base" in fields and fields["base"] != pr.base:
                if fields["base"] not in pr.repo.tips:
                    raise _invalid("Proposed base branch was not found", code="invalid")
                pr.base = str(fields["base"])
            if "title" in fields:
                pr.title = str(fields["title"])
            if "body" in fields:
                pr.body = str(fields["body"] or "")
            state = fields.get("state")
            if state == "closed" and pr.state == "open":
                self._close(pr, actor)
            elif state == "open" and pr.state == "closed" and not pr.merged:
                pr.state, pr.closed_at = "open", None
                self.event(pr.repo, "PullRequestEvent", actor, _pr_payload("reopened", pr))
            pr.touch()

    def mark_ready(self, pr: PullRequest) -> None:
        with self.lock:
            pr.draft = False
            pr.touch()

    def _close(self, pr: PullRequest, actor: str) -> None:
        pr.state, pr.closed_at, pr.queued_at = "closed", iso(), None
        pr.touch()
        self.event(pr.repo, "PullRequestEvent", actor, _pr_payload("closed", pr))

    def close_pr(self, pr: PullRequest, actor: str) -> None:
        with self.lock:
            if pr.state == "open":
                self._close(pr, actor)

    def _mark_merged(self, pr: PullRequest, sha: str, actor: str) -> None:
        now = iso()
        pr.merged, pr.merged_at, pr.merged_by, pr.merge_commit_sha = True, now, actor, sha
        pr.state, pr.closed_at, pr.queued_at, pr.auto_merge = "closed", now, None, None
        pr.touch()
        self.event(pr.repo, "PullRequestEvent", actor, _pr_payload("closed", pr))
        self.close_linked(pr)

    def delete_branch(self, repo: Repo, branch: str) -> None:
        with self.lock:
            self.sync(repo)
            if branch not in repo.tips or not git_store.delete_branch(repo.path, branch):
                raise ApiError(422, "Reference does not exist")
            self.sync(repo)

    def files(self, pr: PullRequest) -> list[dict[str, Any]]:
        """What `pulls/N/files` lists: the PR's changes against its merge base."""
        base_sha = pr.repo.tips.get(pr.base)
        if base_sha is None:
            return []
        return git_store.pr_files(pr.repo.path, base_sha, pr.head_sha)

    def commentable(self, pr: PullRequest) -> dict[str, set[int]]:
        return {
            str(f["filename"]): git_store.right_side_lines(str(f["patch"])) for f in self.files(pr)
        }

    # ---- merging -----------------------------------------------------------------------------
    def mergeable(self, pr: PullRequest) -> bool | None:
        """None while it cannot be known (base branch gone)."""
        base_sha = pr.repo.tips.get(pr.base)
        if base_sha is None:
            return None
        key = (pr.repo.full_name, base_sha, pr.head_sha)
        if key not in self._mergeable:
            self._mergeable[key] = git_store.mergeable(pr.repo.path, base_sha, pr.head_sha)
        return self._mergeable[key]

    def merge_pr(
        self,
        pr: PullRequest,
        *,
        method: str,
        sha: str | None,
        title: str | None,
        message: str | None,
        actor: str,
        via_queue: bool = False,
    ) -> str:
        with self.lock:
            self.sync(pr.repo)
            new = self._merge_now(pr, method, sha, title, message, actor, via_queue)
            self.sync(pr.repo)
            return new

    def _merge_now(
        self,
        pr: PullRequest,
        method: str,
        sha: str | None,
        title: str | None,
        message: str | None,
        actor: str,
        via_queue: bool,
    ) -> str:
        repo = pr.repo
        self._check_mergeable(pr, method, sha, via_queue)
        base_sha = repo.tips[pr.base]
        author = (actor, f"{actor}@users.noreply.github.com")
        try:
            new = self._merge_commit(pr, method, base_sha, title, message, author)
        except git_store.MergeConflict as exc:
            raise ApiError(405, "Pull Request is not mergeable") from exc
        git_store.move_branch(repo.path, pr.base, new, base_sha)
        self._mark_merged(pr, new, actor)
        return new

    def _check_mergeable(
        self, pr: PullRequest, method: str, sha: str | None, via_queue: bool
    ) -> None:
        repo = pr.repo
        if pr.state != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        if method not in METHOD_WORDS:
            raise _invalid(f"merge_method {method!r} is not one of merge, squash, rebase")
        if not getattr(repo, f"allow_{'merge_commit' if method == 'merge' else method + '_merge'}"):
            raise ApiError(405, f"{METHOD_WORDS[method]} are not allowed on this repository.")
        if repo.merge_queue and not via_queue:
            raise ApiError(405, "Changes must be made through the merge queue")
        if pr.draft:
            raise ApiError(405, "Pull Request is still a draft")
        if sha and sha != pr.head_sha:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        blocked = self.protection_failures(pr)
        if blocked:
            raise ApiError(405, blocked[0])
        if self.mergeable(pr) is not True:
            raise ApiError(405, "Pull Request is not mergeable")

    def _merge_commit(
        self,
        pr: PullRequest,
        method: str,
        base_sha: str,
        title: str | None,
        message: str | None,
        author: tuple[str, str],
    ) -> str:
        path = pr.repo.path
        if method == "rebase":
            return git_store.rebase_onto(path, base_sha, pr.head_sha, author)
        tree = git_store.merged_tree(path, base_sha, pr.head_sha)
        if method == "squash":
            subject = title or f"{pr.title} (#{pr.number})"
            return git_store.commit_tree(path, tree, [base_sha], _msg(subject, message), author)
        subject = title or f"Merge pull request #{pr.number} from {pr.repo.owner}/{pr.head}"
        text = _msg(subject, pr.title if message is None else message)
        return git_store.commit_tree(path, tree, [base_sha, pr.head_sha], text, author)

    def _advance_merges(self, repo: Repo) -> None:
        """Merge queue entries whose delay passed, and auto-merge PRs that turned clean."""
        progress = True
        while progress:
            progress = False
            for pr in self.pulls(repo):
                if pr.state != "open":
                    continue
                due = pr.queued_at is not None and time.monotonic() >= pr.queued_at
                auto = pr.auto_merge is not None and self.merge_state_status(pr) == "CLEAN"
                if not (due or auto):
                    continue
                method = pr.auto_merge or self.default_method(repo)
                actor = pr.merged_by or pr.author
                try:
                    self._merge_now(pr, method, None, None, None, actor, via_queue=True)
                except ApiError:
                    if due:
                        pr.queued_at = None  # a failing entry leaves the queue, as on GitHub
                    continue
                self._sync_refs(repo)  # the base moved: other PRs see the new tip
                progress = True
                break

    def default_method(self, repo: Repo) -> str:
        for method in ("squash", "merge", "rebase"):
            flag = "allow_merge_commit" if method == "merge" else f"allow_{method}_merge"
            if getattr(repo, flag):
                return method
        return "merge"


def _msg(subject: str, body: str | None) -> str:
    return f"{subject}\n\n{body}\n" if body else f"{subject}\n"


def _pr_payload(action: str, pr: PullRequest) -> dict[str, Any]:
    return {"action": action, "number": pr.number, "pull_request": {"merged": pr.merged}}


def _invalid(message: str, *, code: str = "invalid", field: str | None = None) -> ApiError:
    error: dict[str, Any] = {"resource": "PullRequest", "code": code}
    if field:
        error["field"] = field
    else:
        error["message"] = message
    return ApiError(422, "Validation Failed", [error])
