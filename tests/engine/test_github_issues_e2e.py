"""Working from issues: a project whose plait.toml has [issues] turns labelled issues on
the GitHub double into merged PRs, through a `plait up` engine killed with SIGKILL halfway.

The double plays GitHub (issues, labels, comments, PRs over a real bare repository) and a
CI bot reports a green check on every new PR head. A reviewer agent ([review] prs) judges
each PR as its own GitHub account: it asks for a change on a line of issue 2's PR, the
agent fixes it, and it approves the new head. After the kill and a restart, every issue
has exactly one PR (saying `Closes #N`, merged, which closed the issue), one review per
verdict, one status comment, and the `plait:done` label next to its own. A person's PR in
conflict with main, labelled `plait:repair`, is adopted and repaired (main merged in, both
sides kept) and then merged by the person. Removing the label of an issue whose agent is
still thinking stops that agent, and the issue says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from plait.testing.github_double import GitHubDouble
from plait.testing.github_double.checks import Check
from tests.cli.helpers_cli import cli_env, plait

OWNER, NAME = "acme", "notes"
TOML = """[issues]
labels = ["plait"]
poll = 0.5
launches_per_poll = 2

repair_label = "plait:repair"

[review]
prs = true

[merge]
sync = "merge"                  # a person's branch takes main by a merge, not a rebase
"""
ISSUES = {1: "one", 2: "two", 3: "three"}


def _turn(word: str, content: str = "") -> dict[str, object]:
    write = {"write": f"notes/{word}.txt", "content": content or f"{word}\n"}
    return {"say": f"wrote {word}", "actions": [write, {"commit": f"Add {word}"}]}


TASKS: dict[str, dict[str, list[dict[str, object]]]] = {
    f"issue-{n}": {"start": [_turn(w)]} for n, w in ISSUES.items()
}
TASKS["issue-5"] = {kind: [{"say": "…", "actions": [{"hang": 120}]}]
                    for kind in ("start", "continue")}  # fmt: skip
TASKS["issue-2"] |= {
    "verdict": [
        {"say": "VERDICT: NEEDS_CHANGES\n1. notes/two.txt:1 capitalize it"},
        {"say": "VERDICT: APPROVED"},
    ],
    "review": [_turn("two", "Two\n")],
}
SCRIPT = {
    "tasks": TASKS,
    "default": {
        "verdict": [{"say": "VERDICT: APPROVED"}],
        # A person's PR in conflict with main: merge GitHub's main in (the clone's own
        # main is behind it), keep both sides, commit.
        "conflict": [
            {
                "say": "resolved",
                "actions": [
                    {"run": ["sh", "-c", "git merge -q --no-edit origin/main || true"]},
                    {"write": "README.md", "content": "notes v2, by ann\n"},
                    {"commit": "Merge main"},
                ],
            }
        ],
    },
}


def _git(cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@x")  # fmt: skip
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


class CI:
    """A green check on every new PR head, as GitHub Actions would report it."""

    def __init__(self, gh: GitHubDouble) -> None:
        self.gh, self.seen = gh, set[str]()
        self.stop, self.errors = threading.Event(), list[BaseException]()

    def run(self) -> None:
        try:
            while not self.stop.wait(0.1):
                for pr in self.gh.pulls(OWNER, NAME):
                    if pr.state == "open" and pr.head_sha not in self.seen:
                        self.seen.add(pr.head_sha)
                        check = Check(name="tests", conclusion="success", title="ok")
                        self.gh.set_check_runs(OWNER, NAME, pr.head_sha, [check])
        except BaseException as exc:  # surfaced by the test
            self.errors.append(exc)


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    tokens = {"double-token": "plait-bot", "reviewer-token": "reviewer-bot"}
    with GitHubDouble(root=tmp_path / "github", tokens=tokens) as double:
        yield double


def _until(what: Callable[[], bool], timeout: float, why: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            tail = log.read_text()[-3000:] if log.exists() else ""
            raise AssertionError(f"timed out waiting for {why}\n{tail}")
        time.sleep(0.1)


@pytest.mark.timeout(240)
def test_labelled_issues_become_merged_prs_across_a_kill(tmp_path: Path, gh: GitHubDouble) -> None:
    gh.create_repo(OWNER, NAME, files={"README.md": "notes\n", "plait.toml": TOML})
    for word in ISSUES.values():
        gh.create_issue(OWNER, NAME, f"Add note {word}", f"Write notes/{word}.txt.",
                        labels=["plait"])  # fmt: skip
    gh.create_issue(OWNER, NAME, "Not for the bot", "A person's issue.")
    slow = gh.create_issue(OWNER, NAME, "Think for long", "Take your time.", labels=["plait"])
    assert slow.number == 5  # its script hangs
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", gh.repo_remote_url(OWNER, NAME), str(clone))
    person = _conflicted_pr(gh, tmp_path)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    env = cli_env(tmp_path, GITHUB_TOKEN="double-token", PLAIT_REVIEWER_TOKEN="reviewer-token")
    made = plait("init", "--repo", str(clone), "--forge", "github", "--github-url", gh.api_url,
                 "--script", str(script), "--poll-interval", "0.3", "--merge-delay", "0.5",
                 "--project", "notes", home=tmp_path, env=env)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    ci = CI(gh)
    bot = threading.Thread(target=ci.run, daemon=True)
    bot.start()
    log = tmp_path / "engine.log"
    up = [sys.executable, "-m", "plait.cli", "up", "notes", "--foreground"]
    try:
        with log.open("w") as out:
            first = subprocess.Popen(up, env=env, stdout=out, stderr=subprocess.STDOUT)
        # Killed once the first PR is open: tasks are under way, labels half written.
        _until(lambda: len(gh.pulls(OWNER, NAME)) > 1, 90, "a first PR of plait's", log)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        with log.open("a") as out:
            second = subprocess.Popen(up, env=env, stdout=out, stderr=subprocess.STDOUT)

        def landed() -> bool:
            return all(gh.issue(OWNER, NAME, n).state == "closed" for n in ISSUES) and all(
                "plait:done" in gh.issue(OWNER, NAME, n).labels for n in ISSUES
            )

        _until(landed, 150, "every issue closed and labelled plait:done", log)
        # The slow issue's agent is still thinking: removing its label stops it.
        _until(lambda: "plait:running" in gh.issue(OWNER, NAME, slow.number).labels, 30,
               "the slow issue running", log)  # fmt: skip
        gh.unlabel(OWNER, NAME, slow.number, "plait")
        _until(lambda: f"[issue-{slow.number}] stopped" in log.read_text(), 30,
               "the slow issue's task stopped", log)  # fmt: skip
        _until(lambda: not gh.issue(OWNER, NAME, slow.number).labels, 30,
               "the slow issue's status label gone", log)  # fmt: skip
        _until(
            lambda: gh.world.mergeable(gh.pr(OWNER, NAME, person)) is True, 60, "the repair", log
        )
        gh.merge_pr(OWNER, NAME, person, author="ann")
        down = plait("down", "notes", home=tmp_path, env=env)
        assert down.returncode == 0, down.stdout + down.stderr
        second.wait(timeout=30)
    finally:
        ci.stop.set()
        bot.join(timeout=10)
        for proc in (p for p in locals().values() if isinstance(p, subprocess.Popen)):
            if proc.poll() is None:
                proc.kill()
    assert not ci.errors, ci.errors
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    assert _git(gh.repo_path(OWNER, NAME), "show", "main:README.md") == "notes v2, by ann\n"
    pulls = [pr for pr in gh.pulls(OWNER, NAME) if pr.number != person]
    # One PR per issue, each closing its issue and merged; nothing for the person's issue.
    assert sorted(pr.body.split("Closes #")[1].split()[0] for pr in pulls) == ["1", "2", "3"]
    assert all(pr.merged for pr in pulls)
    for n in ISSUES:
        issue = gh.issue(OWNER, NAME, n)
        assert (issue.state_reason, issue.labels) == ("completed", ["plait", "plait:done"])
        assert len(issue.comments) == 1, [c.body for c in issue.comments]
    # One review per verdict, by the reviewer's account; the change it asked for is on main.
    reviews = {pr.number: [(r.author, r.state) for r in pr.reviews] for pr in pulls}
    fixed = next(pr for pr in pulls if pr.head.endswith("issue-2"))
    assert reviews.pop(fixed.number) == [
        ("reviewer-bot", "CHANGES_REQUESTED"), ("reviewer-bot", "APPROVED"),
    ]  # fmt: skip
    assert list(reviews.values()) == [[("reviewer-bot", "APPROVED")]] * 2
    (thread,) = fixed.threads
    assert (thread.path, thread.line, thread.resolved) == ("notes/two.txt", 1, True)
    other = gh.issue(OWNER, NAME, 4)
    assert (other.state, other.labels, other.comments) == ("open", [], [])
    (said,) = gh.issue(OWNER, NAME, slow.number).comments
    assert "`stopped`" in said.body
    assert not any(pr.head.endswith(f"issue-{slow.number}") for pr in gh.pulls(OWNER, NAME))
    bare = gh.repo_path(OWNER, NAME)
    assert _git(bare, "show", "main:notes/two.txt") == "Two\n"
    assert sorted(_git(bare, "ls-tree", "--name-only", "main", "notes/").split()) == [
        "notes/one.txt", "notes/three.txt", "notes/two.txt",
    ]  # fmt: skip


def _conflicted_pr(gh: GitHubDouble, tmp_path: Path) -> int:
    """Ann's PR edits the README; then main's README changes under it."""
    ann = tmp_path / "ann"
    _git(tmp_path, "clone", "-q", gh.repo_remote_url(OWNER, NAME), str(ann))
    _git(ann, "checkout", "-q", "-b", "ann/readme")
    (ann / "README.md").write_text("notes, by ann\n")
    _git(ann, "commit", "-qam", "Sign the README")
    _git(ann, "push", "-q", "origin", "ann/readme")
    pr = gh.open_pr(OWNER, NAME, head="ann/readme", title="Sign the README", author="ann")
    gh.label(OWNER, NAME, pr.number, "plait:repair")
    _git(ann, "checkout", "-q", "main")
    (ann / "README.md").write_text("notes v2\n")
    _git(ann, "commit", "-qam", "README v2")
    _git(ann, "push", "-q", "origin", "main")
    return pr.number
