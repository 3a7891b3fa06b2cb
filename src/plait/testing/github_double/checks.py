"""Check runs in the GitHub double: set by tests, read by clients, re-run on request.

A call to `set_check_runs` plays one workflow run for a commit: every `Check` in it becomes a
check run (= an Actions job, same id, as on GitHub) of one new run id. A check with the
same name on the same commit replaces the older one, which is what `filter=latest` shows.
`rerun-failed-jobs` queues fresh copies of that run's failed jobs (new ids, status queued).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from plait.testing.github_double.state import CheckRun, Repo, iso, node_id
from plait.testing.github_double.world import FAILED, ApiError, World


@dataclass(frozen=True, slots=True, kw_only=True)
class Annotation:
    path: str
    line: int
    message: str
    level: str = "failure"  # notice | warning | failure
    title: str = ""
    end_line: int | None = None

    def as_json(self) -> dict[str, Any]:
        end = self.end_line or self.line
        return {
            "path": self.path,
            "start_line": self.line,
            "end_line": end,
            "start_column": None,
            "end_column": None,
            "annotation_level": self.level,
            "title": self.title or None,
            "message": self.message,
            "raw_details": None,
            "blob_href": "",
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """What a test says a CI job did. `conclusion` None means still running."""

    name: str
    conclusion: str | None = "success"
    status: str = ""  # default: completed when there is a conclusion, else in_progress
    title: str = ""
    summary: str = ""
    text: str = ""
    annotations: tuple[Annotation, ...] = field(default_factory=tuple)
    log: str = ""


def set_check_runs(world: World, repo: Repo, sha: str, checks: Iterable[Check]) -> list[CheckRun]:
    with world.lock:
        run_id, suite_id = world.next_id(), world.next_id()
        made = [_make(world, sha, check, run_id, suite_id) for check in checks]
        names = {run.name for run in made}
        kept = [r for r in world.checks[repo.full_name] if r.head_sha != sha or r.name not in names]
        world.checks[repo.full_name] = kept + made
        return made


def _make(world: World, sha: str, check: Check, run_id: int, suite_id: int) -> CheckRun:
    cid, now = world.next_id(), iso()
    status = check.status or ("completed" if check.conclusion else "in_progress")
    run = CheckRun(
        id=cid,
        node_id=node_id("CR", cid),
        name=check.name,
        head_sha=sha,
        status=status,
        conclusion=check.conclusion if status == "completed" else None,
        title=check.title,
        summary=check.summary,
        text=check.text,
        annotations=[a.as_json() for a in check.annotations],
        log=check.log,
        run_id=run_id,
        suite_id=suite_id,
        started_at=now,
        completed_at=now if status == "completed" else None,
    )
    world.register(run.node_id, run)
    return run


def rerun_failed_jobs(world: World, repo: Repo, run_id: int) -> list[CheckRun]:
    with world.lock:
        runs = world.checks[repo.full_name]
        mine = [r for r in runs if r.run_id == run_id]
        if not mine:
            raise ApiError(404, "Not Found")
        failed = [r for r in mine if r.conclusion in FAILED]
        fresh: list[CheckRun] = []
        for old in failed:
            cid = world.next_id()
            run = CheckRun(
                id=cid, node_id=node_id("CR", cid), name=old.name, head_sha=old.head_sha,
                status="queued", conclusion=None, title="", summary="", text="",
                annotations=[], log="", run_id=run_id, suite_id=old.suite_id,
                started_at=iso(), completed_at=None, reruns=old.reruns + 1,
            )  # fmt: skip
            world.register(run.node_id, run)
            fresh.append(run)
        world.checks[repo.full_name] = [r for r in runs if r not in failed] + fresh
        return fresh
