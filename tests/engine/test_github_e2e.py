"""`plait run --forge github` against the GitHub double lands a stacked plan end to end.

The double is a stateful GitHub on 127.0.0.1 over a real bare repository; this test plays
its CI (a bot that runs the project's check on every new PR head and reports a check run)
and a reviewer who asks for a change on one PR. The plan:

    1 (CI fails first, the agent fixes it) ── 3 (starts stacked on 1's branch)
    2 (a review thread the agent answers; plait replies in it and resolves it)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait.testing.github_double import GitHubDouble
from plait.testing.github_double.checks import Check
from plait.testing.github_double.faults import Fault
from tests.cli.helpers_cli import cli_env

OWNER, NAME = "acme", "notes"

PLAN = """# Gameplan: notes on github

## Patches

### Patch 1 [INFRA]: Add note one
Write notes/one.txt.

### Patch 2 [INFRA]: Add note two
Write notes/two.txt.

### Patch 3 [BEHAVIOR]: Add note three
Write notes/three.txt next to one.

## Dependency Graph

- Patch 1 [INFRA] -> []
- Patch 2 [INFRA] -> []
- Patch 3 [BEHAVIOR] -> [1]
"""


def _turn(say: str, path: str, content: str, message: str) -> dict[str, object]:
    return {"say": say, "actions": [{"write": path, "content": content}, {"commit": message}]}


SCRIPT = {
    "tasks": {
        "1": {
            "start": [_turn("wrote one", "notes/one.txt", "BROKEN\n", "Add one")],
            "ci": [_turn("fixed the check", "notes/one.txt", "one\n", "Fix one")],
        },
        "2": {
            "start": [_turn("wrote two", "notes/two.txt", "two\n", "Add two")],
            "review": [_turn("Capitalized as asked.", "notes/two.txt", "Two\n", "Capitalize")],
        },
        "3": {"start": [_turn("wrote three", "notes/three.txt", "three\n", "Add three")]},
    }
}


def _git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@x",
    )  # fmt: skip
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Bots:
    """The forge's CI and a reviewer, as threads polling the double."""

    def __init__(self, gh: GitHubDouble) -> None:
        self.gh = gh
        self.checked: set[str] = set()
        self.reviewed: set[int] = set()
        self.stop = threading.Event()
        self.thread_ids: list[str] = []
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            while not self.stop.wait(0.1):
                self.cycle()
        except BaseException as exc:  # surfaced by the test
            self.errors.append(exc)

    def cycle(self) -> None:
        bare = self.gh.repo_path(OWNER, NAME)
        for pr in self.gh.pulls(OWNER, NAME):
            if pr.state != "open":
                continue
            if pr.head_sha not in self.checked:
                self.checked.add(pr.head_sha)
                broken = _greps(bare, pr.head_sha)
                check = Check(
                    name="tests",
                    conclusion="failure" if broken else "success",
                    title="1 failing" if broken else "all good",
                    summary="notes/one.txt must not say BROKEN" if broken else "",
                    log="FAIL: test_one\nAssertionError: BROKEN\n" if broken else "ok\n",
                )
                self.gh.set_check_runs(OWNER, NAME, pr.head_sha, [check])
            if pr.head == "plait/notes/2" and not pr.draft and pr.number not in self.reviewed:
                self.reviewed.add(pr.number)
                t = self.gh.add_review_thread(
                    OWNER, NAME, pr.number, path="notes/two.txt", line=1,
                    body="Please capitalize this.",
                )  # fmt: skip
                self.thread_ids.append(t.node_id)


def _greps(bare: Path, sha: str) -> bool:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(
        ["git", "grep", "-I", "-q", "BROKEN", sha, "--"], cwd=bare, env=env, check=False
    )
    return done.returncode == 0


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    with GitHubDouble(root=tmp_path / "github") as double:
        yield double


def _setup(tmp_path: Path, gh: GitHubDouble) -> tuple[Path, Path, Path]:
    gh.create_repo(OWNER, NAME, files={"README.md": "notes\n"})
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", gh.repo_remote_url(OWNER, NAME), str(clone))
    _git(clone, "config", "user.name", "dev")
    _git(clone, "config", "user.email", "dev@example.invalid")
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    return clone, plan, script


def _run_args(gh: GitHubDouble, clone: Path, plan: Path, script: Path) -> list[str]:
    return [
        sys.executable, "-m", "plait.cli", "run", str(plan), "--repo", str(clone),
        "--forge", "github", "--github-url", gh.api_url, "--script", str(script),
        "--poll-interval", "0.3", "--merge-delay", "1.5", "--max-concurrency", "3",
        "--project", "notes", "--json",
    ]  # fmt: skip


def _check_landed(tmp_path: Path, gh: GitHubDouble, bots: Bots, out: str) -> None:
    lines = [json.loads(line) for line in out.splitlines()]
    summary = lines[-1]
    assert summary["outcome"] == "merged"
    # One PR per task, all merged, all on main in the end.
    pulls = gh.pulls(OWNER, NAME)
    assert sorted(pr.head for pr in pulls) == ["plait/notes/1", "plait/notes/2", "plait/notes/3"]
    assert all(pr.merged and pr.base == "main" for pr in pulls)
    # The review thread got exactly one reply from plait and was resolved.
    (thread_id,) = bots.thread_ids
    thread = gh.thread(thread_id)
    assert thread.resolved
    replies = [c for c in thread.comments if c.author != "reviewer"]
    assert len(replies) == 1, [c.body for c in thread.comments]
    assert "Capitalized as asked." in replies[0].body
    # main on the forge holds each change once, with the final content.
    bare = gh.repo_path(OWNER, NAME)
    assert _git(bare, "show", "main:notes/one.txt") == "one\n"
    assert _git(bare, "show", "main:notes/two.txt") == "Two\n"
    assert _git(bare, "show", "main:notes/three.txt") == "three\n"
    subjects = _git(bare, "log", "--format=%s", "main").splitlines()
    assert len(subjects) == 4, subjects  # the initial commit and one squash per task
    # Landed branches were deleted on the forge, each after its children were retargeted.
    assert _git(bare, "branch", "--format=%(refname:short)").split() == ["main"]
    # The token never reached plait's store or logs.
    for path in (tmp_path / "plait-home").rglob("*"):
        if path.is_file():
            assert b"double-token" not in path.read_bytes(), path
    assert "double-token" not in out


@pytest.mark.timeout(240)
def test_stacked_plan_lands_on_github(tmp_path: Path, gh: GitHubDouble) -> None:
    clone, plan, script = _setup(tmp_path, gh)
    bots = Bots(gh)
    runner = threading.Thread(target=bots.run, daemon=True)
    runner.start()
    env = cli_env(tmp_path, GITHUB_TOKEN="double-token")
    try:
        done = subprocess.run(
            _run_args(gh, clone, plan, script), env=env, capture_output=True, text=True,
            timeout=200,
        )  # fmt: skip
    finally:
        bots.stop.set()
        runner.join(timeout=10)
    assert not bots.errors, bots.errors
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    messages = done.stdout
    assert "opened draft PR #" in messages
    assert "into plait/notes/1" in messages  # task 3 started stacked on 1
    assert "PR retargeted to main" in messages
    assert "CI failed on" in messages
    assert "review threads answered and resolved" in messages
    _check_landed(tmp_path, gh, bots, done.stdout)


@pytest.mark.timeout(280)
def test_faults_and_a_crash_leave_no_duplicate(tmp_path: Path, gh: GitHubDouble) -> None:
    """5xx, secondary and primary rate limits, then SIGKILL mid-run and resume.

    (A reply whose answer is lost on the wire is covered in tests/forges.)"""
    clone, plan, script = _setup(tmp_path, gh)
    repo = f"/repos/{OWNER}/{NAME}"
    faults = [
        Fault.server_error(502, route=f"POST {repo}/pulls$", times=2),
        Fault.secondary_rate_limit(1.0, route="graphql", times=2),
        Fault.server_error(503, route="merge$", times=1),
        Fault.primary_rate_limit(1.0, route=f"GET {repo}/pulls$", times=1),
    ]
    gh.inject(*faults)
    bots = Bots(gh)
    runner = threading.Thread(target=bots.run, daemon=True)
    runner.start()
    env = cli_env(tmp_path, GITHUB_TOKEN="double-token")
    try:
        proc = subprocess.Popen(
            _run_args(gh, clone, plan, script), env=env, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        for line in proc.stdout:
            if "review threads answered and resolved" in line or "merged PR" in line:
                proc.kill()  # mid-run, between forge writes
                break
        proc.wait(timeout=60)
        proc.stdout.close()
        resumed = subprocess.run(
            [sys.executable, "-m", "plait.cli", "resume", "notes", "--json"],
            env=env, capture_output=True, text=True, timeout=200,
        )  # fmt: skip
    finally:
        bots.stop.set()
        runner.join(timeout=10)
    assert not bots.errors, bots.errors
    assert resumed.returncode == 0, resumed.stdout[-4000:] + resumed.stderr[-3000:]
    assert all(f.hits for f in faults), [(f.kind, f.route, f.hits) for f in faults]
    _check_landed(tmp_path, gh, bots, resumed.stdout)
