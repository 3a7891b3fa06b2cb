"""`plait adopt N` takes over someone's PR on GitHub (the double) and keeps it green.

The PR arrives with failing CI and then gets a review thread; plait checks its branch
out, has the agent fix CI and answer the review, pushes to the PR's own branch, replies
in the thread and resolves it — and leaves the merge to the human, who merges once it is
green. The run ends when plait sees the PR merged.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from plait.testing.github_double import GitHubDouble
from plait.testing.github_double.checks import Check
from tests.cli.helpers_cli import cli_env
from tests.engine.test_github_e2e import _git, _greps

OWNER, NAME = "acme", "notes"


def _turn(say: str, path: str, content: str, message: str) -> dict[str, object]:
    return {"say": say, "actions": [{"write": path, "content": content}, {"commit": message}]}


SCRIPT = {
    "tasks": {
        "pr-1": {
            "ci": [_turn("The note said BROKEN; fixed.", "notes/fix.txt", "fixed\n", "Fix note")],
            "review": [_turn("Added the newline.", "notes/fix.txt", "fixed\n\n", "Newline")],
        }
    }
}


class Human:
    """CI for every head, one review thread once CI is green, and the merge at the end."""

    def __init__(self, gh: GitHubDouble) -> None:
        self.gh = gh
        self.checked: set[str] = set()
        self.thread = ""
        self.merged = ""
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            while not self.stop.wait(0.1):
                self.cycle()
        except BaseException as exc:
            self.errors.append(exc)

    def cycle(self) -> None:
        pr = self.gh.pr(OWNER, NAME, 1)
        if pr.state != "open":
            return
        bare = self.gh.repo_path(OWNER, NAME)
        if pr.head_sha not in self.checked:
            self.checked.add(pr.head_sha)
            broken = _greps(bare, pr.head_sha)
            check = Check(name="tests", conclusion="failure" if broken else "success",
                          summary="notes/fix.txt says BROKEN" if broken else "",
                          log="FAIL: BROKEN\n" if broken else "ok\n")  # fmt: skip
            self.gh.set_check_runs(OWNER, NAME, pr.head_sha, [check])
            return
        green = all(c.conclusion == "success" for c in self.gh.check_runs(OWNER, NAME, pr.head_sha))
        if green and not self.thread:
            body = "Please end the file with a blank line."
            t = self.gh.add_review_thread(OWNER, NAME, 1, path="notes/fix.txt", line=1, body=body)
            self.thread = t.node_id
        elif green and self.thread and self.gh.thread(self.thread).resolved:
            self.merged = self.gh.merge_pr(OWNER, NAME, 1, method="squash")


@pytest.mark.timeout(150)
def test_adopted_pr_is_kept_green_and_left_to_the_human(tmp_path: Path) -> None:
    with GitHubDouble(root=tmp_path / "github") as gh:
        gh.create_repo(OWNER, NAME, files={"README.md": "notes\n"})
        theirs = tmp_path / "theirs"
        _git(tmp_path, "clone", "-q", gh.repo_remote_url(OWNER, NAME), str(theirs))
        _git(theirs, "checkout", "-q", "-b", "fix-note")
        (theirs / "notes").mkdir()
        (theirs / "notes" / "fix.txt").write_text("BROKEN\n")
        _git(theirs, "add", "-A")
        _git(theirs, "commit", "-q", "-m", "Add a note")
        _git(theirs, "push", "-q", "origin", "fix-note")
        gh.open_pr(OWNER, NAME, head="fix-note", title="Add a note", author="someone")

        mine = tmp_path / "mine"
        _git(tmp_path, "clone", "-q", gh.repo_remote_url(OWNER, NAME), str(mine))
        script = tmp_path / "script.json"
        script.write_text(json.dumps(SCRIPT))
        human = Human(gh)
        bot = threading.Thread(target=human.run, daemon=True)
        bot.start()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "plait.cli", "adopt", "1", "--repo", str(mine),
                 "--forge", "github", "--github-url", gh.api_url, "--agent", "script",
                 "--script", str(script), "--poll-interval", "0.3", "--json"],
                env=cli_env(tmp_path, GITHUB_TOKEN="tok"), capture_output=True, text=True,
                timeout=100,
            )  # fmt: skip
        finally:
            human.stop.set()
            bot.join(timeout=10)
        assert not human.errors, human.errors
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        summary = lines[-1]
        assert summary["outcome"] == "merged"
        assert [t["id"] for t in summary["tasks"]] == ["pr-1"]
        messages = "\n".join(str(e.get("message")) for e in lines if e.get("type") == "event")
        assert "agent script starts a ci turn" in messages
        assert "agent script starts a review turn" in messages
        assert "review threads answered and resolved" in messages
        assert "merged PR" not in messages  # plait never merged it: the human did
        # plait pushed its fixes to the PR's own branch, then the human's merge landed them.
        pr = gh.pr(OWNER, NAME, 1)
        assert pr.merged
        assert pr.merged_by != "plait-user" or human.merged
        bare = gh.repo_path(OWNER, NAME)
        assert _git(bare, "show", "main:notes/fix.txt") == "fixed\n\n"
        thread = gh.thread(human.thread)
        assert [c.author for c in thread.comments].count("reviewer") == 1
        assert len(thread.comments) == 2
