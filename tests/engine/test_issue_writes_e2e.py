"""Issue writes through the outbox, across a kill -9 between GitHub doing them and the
engine recording them: a real `plait up` engine on the GitHub double.

The double applies two writes and then holds their answers (`Fault.late_answer`): the
status comment of issue 1 (whose agent thinks for long, so its status stays `running`) and
the follow-up issue that issue 2's agent asks for. While both are held the engine is
killed with SIGKILL, so the outbox still holds them as pending `WriteIssue` effects. The
next engine performs them again — and finds the label, the marked comment and the marked
issue there: one comment, one label added, one follow-up issue.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from plait.testing.github_double import GitHubDouble
from plait.testing.github_double.faults import Fault
from plait.testing.github_double.state import Issue
from tests.cli.helpers_cli import plait
from tests.engine.issue_project import make_project, pending_writes, start_engine
from tests.engine.test_github_issues_e2e import _until

OWNER, NAME = "acme", "notes"
TOML = """[issues]
labels = ["plait"]
poll = 0.5
"""
SPLIT = (
    "Did the first part.\n\n```plait-issues\n"
    '[{"title": "Do the second part", "body": "The rest of #2."}]\n```\n'
)
SCRIPT = {
    "tasks": {
        "issue-1": {
            kind: [{"say": "…", "actions": [{"hang": 300}]}] for kind in ("start", "continue")
        },
        "issue-2": {
            kind: [
                {
                    "say": SPLIT,
                    "actions": [{"write": "two.txt", "content": "2\n"}, {"commit": "Part one"}],
                }
            ]
            for kind in ("start", "continue")
        },
    },
    "default": {"start": [{"say": "Nothing to do.", "actions": []}]},
}


@pytest.mark.timeout(180)
def test_issue_writes_repeat_nothing_across_a_kill_between_doing_and_recording(
    tmp_path: Path,
) -> None:
    with GitHubDouble(root=tmp_path / "github", tokens={"double-token": "plait-bot"}) as gh:
        gh.create_repo(OWNER, NAME, files={"README.md": "notes\n", "plait.toml": TOML})
        gh.create_issue(OWNER, NAME, "Think for long", "Take your time.", labels=["plait"])
        gh.create_issue(OWNER, NAME, "Too broad", "Do two things.", labels=["plait"])
        gh.inject(
            Fault.late_answer(300, route=r"^POST /repos/acme/notes/issues/1/comments$"),
            Fault.late_answer(300, route=r"^POST /repos/acme/notes/issues$"),
        )
        env = make_project(gh, tmp_path, SCRIPT)
        log = tmp_path / "engine.log"
        engines: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            engines.append(start_engine(log, env))

        try:
            start()
            # GitHub took both writes; their answers are held: the engine has not heard.
            _until(lambda: len(gh.issue(OWNER, NAME, 1).comments) == 1, 60,
                   "issue 1's status comment", log)  # fmt: skip
            _until(lambda: len(gh.issues(OWNER, NAME)) == 3, 60, "the follow-up issue", log)
            engines[0].send_signal(signal.SIGKILL)
            engines[0].wait(timeout=30)
            assert pending_writes(tmp_path) >= 2  # both still pending in the outbox
            start()
            _until(lambda: pending_writes(tmp_path) == 0 and "plait:running" in
                   _follow_up(gh).labels, 60,
                   "the pending writes done and the follow-up's task running", log)  # fmt: skip
            down = plait("down", "notes", home=tmp_path, env=env)
            assert down.returncode == 0, down.stdout + down.stderr
            engines[1].wait(timeout=30)
        finally:
            for proc in engines:
                if proc.poll() is None:
                    proc.kill()
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
        first = gh.issue(OWNER, NAME, 1)
        assert first.labels == ["plait", "plait:running"]
        (comment,) = first.comments
        assert "`running`" in comment.body
        added = gh.requests_where(method="POST", path=f"/repos/{OWNER}/{NAME}/issues/1/labels")
        assert len(added) == 1  # the write done again found its label there
        follow_up = _follow_up(gh)
        assert follow_up.title == "Do the second part"
        assert [i.number for i in gh.issues(OWNER, NAME)] == [1, 2, follow_up.number]


def _follow_up(gh: GitHubDouble) -> Issue:
    (found,) = [i for i in gh.issues(OWNER, NAME) if "Split from #2" in i.body]
    return found
