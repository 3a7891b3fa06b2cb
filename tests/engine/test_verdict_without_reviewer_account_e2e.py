"""A reviewer's needs-changes verdict without a second GitHub account never stalls its PR.

With no `PLAIT_REVIEWER_TOKEN` the reviewer's verdict is posted by plait's own account,
the PR's author, whom GitHub does not let request changes: it goes out as a COMMENT
review and a conversation comment, which the poll does not read as feedback. Before, a
verdict whose issue named no `path:line` (so no line thread either) left the PR waiting
for an answer that could never come. Now the core hands the verdict it already has to
the worker's next turn: a real `plait up` engine on the GitHub double takes the issue
through the fix to a merged PR, and the verdict is still on GitHub for people.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from plait.testing.github_double import GitHubDouble
from tests.cli.helpers_cli import plait
from tests.engine.issue_project import make_project, start_engine
from tests.engine.test_github_issues_e2e import CI, _git, _until

OWNER, NAME = "acme", "notes"
TOML = """[issues]
labels = ["plait"]
poll = 0.5

[review]
prs = true
"""


def _turn(content: str) -> dict[str, object]:
    actions = [{"write": "notes/one.txt", "content": content}, {"commit": "one"}]
    return {"say": "wrote one", "actions": actions}


SCRIPT = {
    "tasks": {
        "issue-1": {
            "start": [_turn("one\n")],
            "changes": [_turn("One\n")],
            "verdict": [
                {"say": "VERDICT: NEEDS_CHANGES\n1. Capitalize the note."},
                {"say": "VERDICT: APPROVED"},
            ],
        }
    },
}


@pytest.mark.timeout(180)
def test_a_verdict_no_poll_brings_back_reaches_the_worker_and_the_pr_merges(
    tmp_path: Path,
) -> None:
    with GitHubDouble(root=tmp_path / "github", tokens={"double-token": "plait-bot"}) as gh:
        gh.create_repo(OWNER, NAME, files={"README.md": "notes\n", "plait.toml": TOML})
        gh.create_issue(OWNER, NAME, "Add note one", "Write notes/one.txt.", labels=["plait"])
        # No PLAIT_REVIEWER_TOKEN: no second account.
        env = make_project(gh, tmp_path, SCRIPT, "--merge-delay", "0.5")
        ci = CI(gh)
        bot = threading.Thread(target=ci.run, daemon=True)
        bot.start()
        log = tmp_path / "engine.log"
        engine = start_engine(log, env)
        try:
            _until(lambda: gh.issue(OWNER, NAME, 1).state == "closed", 120,
                   "issue 1 closed by its merged PR", log)  # fmt: skip
            down = plait("down", "notes", home=tmp_path, env=env)
            assert down.returncode == 0, down.stdout + down.stderr
            engine.wait(timeout=30)
        finally:
            ci.stop.set()
            bot.join(timeout=10)
            if engine.poll() is None:
                engine.kill()
        assert not ci.errors, ci.errors
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
        (pr,) = gh.pulls(OWNER, NAME)
        assert pr.merged
        assert _git(gh.repo_path(OWNER, NAME), "show", "main:notes/one.txt") == "One\n"
        # The verdict is on GitHub for people, as plait's account could post it.
        assert [(r.author, r.state) for r in pr.reviews] == [("plait-bot", "COMMENTED")]
        assert any("Capitalize the note." in c.body for c in pr.comments)
