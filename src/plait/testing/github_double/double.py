"""`GitHubDouble`: a stateful GitHub on 127.0.0.1 for tests and benchmarks.

    with GitHubDouble() as gh:
        gh.create_repo("acme", "app", {"README.md": "hi\\n"})
        remote = gh.repo_remote_url("acme", "app")      # file://…/acme/app.git: push/fetch here
        client = SomeClient(api_url=gh.api_url, token="t")  # REST at the root, like api.github.com
        ...
        gh.set_check_runs("acme", "app", sha, [Check(name="ci", conclusion="failure", log="…")])
        gh.add_review_thread("acme", "app", 1, path="a.py", line=3, body="why?")
        assert gh.requests_where(path="/graphql")[-1].graphql_cost == 1

URLs: `api_url` is the REST root (`http://127.0.0.1:PORT`, paths like `/repos/o/r`, as on
api.github.com) and `graphql_url` is `api_url + "/graphql"`. The GitHub Enterprise layout
works too: `ghe_api_url` (`…/api/v3`) and `…/api/graphql`. Any token is accepted unless
`tokens` maps the accepted ones to their user logins.

The server runs in a background thread (stdlib `ThreadingHTTPServer`), so sync and async
tests use it alike. Test-control methods act on the world directly, as a human or CI on
GitHub would; they are not requests, cost nothing and are not recorded.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path

from plait.testing.github_double import checks as check_runs
from plait.testing.github_double.checks import Check
from plait.testing.github_double.faults import Fault
from plait.testing.github_double.issues import Item
from plait.testing.github_double.server import Handler, Server
from plait.testing.github_double.state import (
    CheckRun,
    Issue,
    IssueComment,
    Protection,
    PullRequest,
    Recorded,
    Repo,
    Review,
    ReviewComment,
    Thread,
)
from plait.testing.github_double.world import World


class GitHubDouble:
    """The server and its world. Start/stop it with `with` (or `start()`/`stop()`)."""

    def __init__(
        self,
        *,
        root: str | Path | None = None,
        login: str = "plait-user",
        tokens: Mapping[str, str] | None = None,
        core_limit: int = 5000,
        graphql_limit: int = 5000,
        rate_window: float = 3600.0,
    ) -> None:
        self._own_root = root is None
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="ghd-"))
        self.login = login
        self.tokens: dict[str, str] = dict(tokens or {})
        self.world = World(
            self.root, core_limit=core_limit, graphql_limit=graphql_limit, rate_window=rate_window
        )
        self.errors: list[BaseException] = []  # exceptions inside the double (its bugs)
        self._faults: list[Fault] = []
        self._requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self, port: int = 0) -> GitHubDouble:
        """Serve on 127.0.0.1:`port` (0: a free one; `url` says which)."""
        server = Server(("127.0.0.1", port), Handler)
        server.double = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases requests held by a timeout fault
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> GitHubDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "GitHubDouble is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.url

    @property
    def graphql_url(self) -> str:
        return self.url + "/graphql"

    @property
    def ghe_api_url(self) -> str:
        return self.url + "/api/v3"

    # ---- repos ---------------------------------------------------------------------------
    def create_repo(
        self,
        owner: str,
        name: str,
        files: Mapping[str, str] | None = None,
        default_branch: str = "main",
    ) -> Path:
        """A repo with one commit of `files` on `default_branch`; returns the bare repo."""
        repo = self.world.create_repo(owner, name, files or {}, default_branch)
        return repo.path

    def repo(self, owner: str, name: str) -> Repo:
        return self.world.repo(owner, name)

    def repo_path(self, owner: str, name: str) -> Path:
        return self.repo(owner, name).path

    def repo_remote_url(self, owner: str, name: str) -> str:
        """The `file://` URL clients push to and fetch from."""
        return self.repo_path(owner, name).as_uri()

    def branch_sha(self, owner: str, name: str, branch: str) -> str | None:
        repo = self.repo(owner, name)
        self.world.sync(repo)
        return repo.tips.get(branch)

    def set_repo(self, owner: str, name: str, **settings: bool | float) -> None:
        """Change settings: allow_merge_commit, allow_squash_merge, allow_rebase_merge,
        allow_auto_merge, merge_queue, merge_queue_delay (seconds)."""
        repo = self.repo(owner, name)
        with self.world.lock:
            for key, value in settings.items():
                if not hasattr(repo, key) or key in ("id", "owner", "name", "path"):
                    raise ValueError(f"unknown repo setting {key!r}")
                setattr(repo, key, value)

    def allow_merge_methods(self, owner: str, name: str, *methods: str) -> None:
        self.set_repo(
            owner, name,
            allow_merge_commit="merge" in methods,
            allow_squash_merge="squash" in methods,
            allow_rebase_merge="rebase" in methods,
        )  # fmt: skip

    def enable_merge_queue(self, owner: str, name: str, *, delay: float = 0.0) -> None:
        """Merges must go through `enqueuePullRequest`; entries merge `delay`s later."""
        self.set_repo(owner, name, merge_queue=True, merge_queue_delay=delay)

    def protect_branch(
        self,
        owner: str,
        name: str,
        branch: str,
        *,
        required_checks: Iterable[str] = (),
        required_approvals: int = 0,
        required_conversation_resolution: bool = False,
    ) -> None:
        rule = Protection(
            required_checks=tuple(required_checks),
            required_approvals=required_approvals,
            required_conversation_resolution=required_conversation_resolution,
        )
        with self.world.lock:
            self.repo(owner, name).protection[branch] = rule

    # ---- pull requests as people and CI touch them ---------------------------------------
    def pr(self, owner: str, name: str, number: int) -> PullRequest:
        repo = self.repo(owner, name)
        self.world.sync(repo)
        return self.world.pr(repo, number)

    def pulls(self, owner: str, name: str) -> list[PullRequest]:
        repo = self.repo(owner, name)
        self.world.sync(repo)
        return self.world.pulls(repo)

    def open_pr(
        self, owner: str, name: str, *, head: str, base: str = "main", title: str = "PR",
        body: str = "", draft: bool = False, author: str = "someone",
    ) -> PullRequest:  # fmt: skip
        repo = self.repo(owner, name)
        return self.world.open_pr(repo, head=head, base=base, title=title, body=body,
                                  draft=draft, author=author)  # fmt: skip

    def merge_pr(
        self, owner: str, name: str, number: int, *, method: str = "merge",
        author: str = "maintainer",
    ) -> str:  # fmt: skip
        """Merge as a human would on the web (ignores the merge queue); returns the commit."""
        pr = self.pr(owner, name, number)
        return self.world.merge_pr(pr, method=method, sha=None, title=None, message=None,
                                   actor=author, via_queue=True)  # fmt: skip

    def close_pr(self, owner: str, name: str, number: int, *, author: str = "maintainer") -> None:
        self.world.close_pr(self.pr(owner, name, number), author)

    def process_merge_queue(self, owner: str, name: str) -> None:
        """Merge queue entries that are due and auto-merges that turned clean, now."""
        self.world.sync(self.repo(owner, name))

    def add_issue_comment(
        self, owner: str, name: str, number: int, body: str, *, author: str = "reviewer"
    ) -> IssueComment:
        """A conversation comment on an issue or a PR."""
        return self.world.add_comment(self.item(owner, name, number), body, author)

    # ---- issues as people touch them -------------------------------------------------------
    def item(self, owner: str, name: str, number: int) -> Item:
        """The issue or PR with this number."""
        repo = self.repo(owner, name)
        self.world.sync(repo)
        return self.world.item(repo, number)

    def issue(self, owner: str, name: str, number: int) -> Issue:
        item = self.item(owner, name, number)
        if not isinstance(item, Issue):
            raise KeyError(f"#{number} is a pull request, not an issue")
        return item

    def issues(self, owner: str, name: str) -> list[Issue]:
        repo = self.repo(owner, name)
        with self.world.lock:
            return list(self.world.issues[repo.full_name].values())

    def create_issue(
        self, owner: str, name: str, title: str, body: str = "", *,
        labels: Iterable[str] = (), assignees: Iterable[str] = (), author: str = "someone",
    ) -> Issue:  # fmt: skip
        return self.world.create_issue(
            self.repo(owner, name), title=title, body=body, author=author,
            labels=labels, assignees=assignees,
        )  # fmt: skip

    def close_issue(
        self, owner: str, name: str, number: int, *, author: str = "maintainer",
        reason: str = "completed",
    ) -> None:  # fmt: skip
        self.world.close_issue(self.issue(owner, name, number), author, reason)

    def reopen_issue(
        self, owner: str, name: str, number: int, *, author: str = "maintainer"
    ) -> None:
        self.world.update_issue(self.issue(owner, name, number), {"state": "open"}, author)

    def label(
        self, owner: str, name: str, number: int, *labels: str, author: str = "maintainer"
    ) -> None:
        """Add labels to an issue or a PR, as a person would."""
        self.world.add_labels(self.item(owner, name, number), labels, author)

    def unlabel(
        self, owner: str, name: str, number: int, label: str, *, author: str = "maintainer"
    ) -> None:
        self.world.remove_label(self.item(owner, name, number), label, author)

    def edit_issue(self, owner: str, name: str, number: int, **fields: object) -> None:
        """Change an issue's title, body or assignees, as a person would."""
        self.world.update_issue(self.item(owner, name, number), fields, "maintainer")

    def add_review_thread(
        self, owner: str, name: str, number: int, *, path: str, line: int, body: str,
        author: str = "reviewer",
    ) -> Thread:  # fmt: skip
        """A line comment on the PR's current head (`thread.node_id` is its GraphQL id)."""
        pr = self.pr(owner, name, number)
        return self.world.add_thread(pr, path=path, line=line, body=body, author=author)

    def reply_to_thread(
        self, thread_id: str, body: str, *, author: str = "reviewer"
    ) -> ReviewComment:
        pr, thread = self._thread_and_pr(thread_id)
        return self.world.reply(pr, thread, body, author)

    def resolve_thread(
        self, thread_id: str, *, author: str = "reviewer", resolved: bool = True
    ) -> None:
        self.world.resolve(self._thread_and_pr(thread_id)[1], author, resolved)

    def outdate_thread(self, thread_id: str) -> None:
        """Mark a thread outdated now (pushes that change its line do this by themselves)."""
        with self.world.lock:
            self.world.outdate(self._thread_and_pr(thread_id)[1])

    def thread(self, thread_id: str) -> Thread:
        return self._thread_and_pr(thread_id)[1]

    def _thread_and_pr(self, thread_id: str) -> tuple[PullRequest, Thread]:
        with self.world.lock:
            thread = self.world.nodes.get(thread_id)
            if not isinstance(thread, Thread):
                raise KeyError(f"no review thread {thread_id!r}")
            for prs in self.world.prs.values():
                for pr in prs.values():
                    if thread in pr.threads:
                        return pr, thread
        raise KeyError(f"no PR holds thread {thread_id!r}")

    def submit_review(
        self, owner: str, name: str, number: int, state: str, body: str = "", *,
        author: str = "reviewer",
    ) -> Review:  # fmt: skip
        """state: APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED."""
        state = state.upper()
        if state not in ("APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"):
            raise ValueError(f"unknown review state {state!r}")
        pr = self.pr(owner, name, number)
        return self.world.submit_review(pr, state=state, body=body, author=author)

    def set_check_runs(
        self, owner: str, name: str, sha: str, runs: Iterable[Check]
    ) -> list[CheckRun]:
        """One workflow run of `runs` on commit `sha` (same-named older runs are replaced)."""
        return check_runs.set_check_runs(self.world, self.repo(owner, name), sha, runs)

    def check_runs(self, owner: str, name: str, sha: str) -> list[CheckRun]:
        with self.world.lock:
            return self.world.checks_for(self.repo(owner, name), sha)

    def set_rate_limit(
        self, resource: str = "core", *, remaining: int | None = None, limit: int | None = None,
        reset_in: float | None = None,
    ) -> None:  # fmt: skip
        """Shape a bucket: e.g. `set_rate_limit("graphql", remaining=0, reset_in=30)`."""
        bucket = self.world.graphql if resource == "graphql" else self.world.core
        with self.world.lock:
            if limit is not None:
                bucket.limit = limit
            if remaining is not None:
                bucket.used = max(0, bucket.limit - remaining)
            if reset_in is not None:
                bucket.reset_at = time.time() + reset_in

    # ---- faults and records ------------------------------------------------------------------
    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def requests_where(
        self, *, method: str | None = None, path: str | None = None
    ) -> list[Recorded]:
        return [
            r for r in self.requests
            if (method is None or r.method == method) and (path is None or r.path == path)
        ]  # fmt: skip

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self._requests.append(rec)
