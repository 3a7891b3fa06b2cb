"""The GitHub double's records: repos, PRs, comments, threads, reviews, check runs, buckets.

Plain mutable dataclasses guarded by the world's lock. Numbers and ids come from one counter
per world, so a test run is reproducible; node ids are opaque strings (`PR_…`, `PRRT_…`)
that `node(id:)` and the mutations look up in one registry.
"""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RATE_WINDOW = 3600.0
_UPDATES = itertools.count()


def iso(at: float | None = None) -> str:
    """GitHub's timestamp format: UTC, second resolution, `Z` suffix."""
    stamp = datetime.fromtimestamp(time.time() if at is None else at, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(prefix: str, number: int) -> str:
    raw = base64.b64encode(f"plait:{prefix}:{number}".encode()).decode().rstrip("=")
    return f"{prefix}_{raw}"


class ApiError(Exception):
    """A request GitHub would refuse: rendered as `{"message": …}` with this status."""

    # GitHub's `errors` holds objects (field, code) or, for some rules, bare sentences.
    def __init__(self, status: int, message: str, errors: list[Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass(slots=True, kw_only=True)
class Protection:
    """Branch protection of a base branch: what GitHub's mergeStateStatus checks."""

    required_checks: tuple[str, ...] = ()
    required_approvals: int = 0
    required_conversation_resolution: bool = False  # every review thread resolved


@dataclass(slots=True, kw_only=True)
class Repo:
    id: int
    node_id: str
    owner: str
    name: str
    path: Path
    default_branch: str
    allow_merge_commit: bool = True
    allow_squash_merge: bool = True
    allow_rebase_merge: bool = True
    allow_auto_merge: bool = True
    merge_queue: bool = False
    merge_queue_delay: float = 0.0
    protection: dict[str, Protection] = field(default_factory=dict)
    tips: dict[str, str] = field(default_factory=dict)  # branch tips as last seen
    events: list[dict[str, Any]] = field(default_factory=list)  # newest last
    labels: dict[str, str] = field(default_factory=dict)  # the repository's labels: name → color
    next_number: int = 1  # issues and PRs share one sequence of numbers, as on GitHub
    created_at: str = field(default_factory=iso)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass(slots=True, kw_only=True)
class IssueComment:
    id: int
    node_id: str
    body: str
    author: str
    created_at: str
    updated_at: str


@dataclass(slots=True, kw_only=True)
class Issue:
    """An issue (not a PR: those are `PullRequest`, numbered from the same sequence)."""

    id: int
    node_id: str
    number: int
    repo: Repo
    title: str
    body: str
    author: str
    created_at: str
    updated_at: str
    state: str = "open"  # open | closed
    state_reason: str | None = None  # completed | not_planned | reopened
    closed_at: str | None = None
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    comments: list[IssueComment] = field(default_factory=list)
    updated_seq: int = field(default_factory=lambda: next(_UPDATES))

    def touch(self) -> None:
        self.updated_at = iso()
        self.updated_seq = next(_UPDATES)


@dataclass(slots=True, kw_only=True)
class ReviewComment:
    id: int
    node_id: str
    thread_id: str
    body: str
    author: str
    path: str
    line: int | None
    original_line: int
    commit_id: str
    original_commit_id: str
    created_at: str
    in_reply_to: int | None = None
    review_id: int | None = None


@dataclass(slots=True, kw_only=True)
class Thread:
    node_id: str
    pr: int
    path: str
    line: int
    original_commit: str
    comments: list[ReviewComment] = field(default_factory=list)
    resolved: bool = False
    resolved_by: str | None = None
    outdated: bool = False


@dataclass(slots=True, kw_only=True)
class Review:
    id: int
    node_id: str
    author: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED
    body: str
    commit_id: str
    submitted_at: str


@dataclass(slots=True, kw_only=True)
class PullRequest:
    id: int
    node_id: str
    number: int
    repo: Repo
    title: str
    body: str
    head: str
    base: str
    head_sha: str
    author: str
    draft: bool
    created_at: str
    updated_at: str
    state: str = "open"  # open | closed
    merged: bool = False
    merged_at: str | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_at: str | None = None
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    comments: list[IssueComment] = field(default_factory=list)
    threads: list[Thread] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    auto_merge: str | None = None  # merge method once auto-merge is enabled
    queued_at: float | None = None  # in the merge queue, to merge at (monotonic clock)
    updated_seq: int = field(default_factory=lambda: next(_UPDATES))  # orders same-second edits

    def touch(self) -> None:
        self.updated_at = iso()
        self.updated_seq = next(_UPDATES)

    @property
    def gql_state(self) -> str:
        return "MERGED" if self.merged else self.state.upper()


@dataclass(slots=True, kw_only=True)
class CheckRun:
    id: int
    node_id: str
    name: str
    head_sha: str
    status: str  # queued | in_progress | completed
    conclusion: str | None  # success | failure | neutral | cancelled | skipped | timed_out …
    title: str
    summary: str
    text: str
    annotations: list[dict[str, Any]]
    log: str
    run_id: int
    suite_id: int
    started_at: str
    completed_at: str | None
    reruns: int = 0


@dataclass(slots=True, kw_only=True)
class Bucket:
    """One primary rate-limit bucket (`core` or `graphql`), an hour window like GitHub's."""

    resource: str
    limit: int
    used: int = 0
    window: float = RATE_WINDOW  # seconds until the bucket refills (tests shorten it)
    reset_at: float = 0.0

    def __post_init__(self) -> None:
        self.reset_at = self.reset_at or time.time() + self.window

    def roll(self) -> None:
        if time.time() >= self.reset_at:
            self.used = 0
            self.reset_at = time.time() + self.window

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(int(self.reset_at)),
            "x-ratelimit-resource": self.resource,
        }

    def as_json(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "used": self.used,
            "remaining": self.remaining,
            "reset": int(self.reset_at),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    """One request as the double saw it, for assertions and benchmarks."""

    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    resource: str  # core | graphql | none (free: /rate_limit, log downloads)
    not_modified: bool = False
    graphql_cost: int | None = None
    graphql_document: str | None = None
    fault: str | None = None
    at: float = 0.0
