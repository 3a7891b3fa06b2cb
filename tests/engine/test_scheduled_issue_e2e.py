"""A scheduled issue through a real `plait up` engine on the GitHub double, on a clock the
test moves (`clocked_plait.py`): exactly one check and one report per due time across a
kill -9, and the work a check finds opens one normal PR task.

Issue 1 says `Schedule: every 6h`. The engine first notes when it saw the schedule; the
test moves its clock six hours on: the check runs, finds work (its answer ends with a
`plait-tasks` block) and its report goes on the issue — whose answer GitHub holds
(`Fault.late_answer`) while the engine is killed with SIGKILL. The next engine performs
the pending report again and finds it there; the work task opens its PR once. Six more
hours: the second due time gets its own check and report, once.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from plait.core import events as ev
from plait.store.sqlite import Store
from plait.testing.github_double import GitHubDouble
from plait.testing.github_double.faults import Fault
from tests.cli.helpers_cli import plait
from tests.engine.issue_project import make_project, pending_writes, start_engine, store_path
from tests.engine.test_github_issues_e2e import _until

OWNER, NAME = "acme", "notes"
TOML = """[issues]
labels = ["plait"]
poll = 0.5
"""
HOURS6 = 6 * 3600
CLOCKED = str(Path(__file__).with_name("clocked_plait.py"))
ANSWER = (
    "Two notes lack a title.\n\n```plait-tasks\n"
    '[{"summary": "Title the notes", "description": "Add a title line."}]\n```\n'
)
SCRIPT = {
    "default": {
        "start": [
            {
                "say": ANSWER,
                "actions": [{"write": "titles.txt", "content": "titled\n"}, {"commit": "Titles"}],
            }
        ]
    }
}


def _meta(home: Path, key: str) -> str:
    db = sqlite3.connect(store_path(home))
    try:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else ""
    finally:
        db.close()


def _reports(gh: GitHubDouble) -> list[str]:
    return [c.body for c in gh.issue(OWNER, NAME, 1).comments if "scheduled check" in c.body]


def _work_prs(gh: GitHubDouble) -> list[str]:
    return sorted(pr.head for pr in gh.pulls(OWNER, NAME) if "-w1" in pr.head)


@pytest.mark.timeout(240)
def test_a_scheduled_issue_reports_once_per_due_time_across_a_kill(tmp_path: Path) -> None:
    with GitHubDouble(root=tmp_path / "github", tokens={"double-token": "plait-bot"}) as gh:
        gh.create_repo(OWNER, NAME, files={"README.md": "notes\n", "plait.toml": TOML})
        gh.create_issue(OWNER, NAME, "Audit the notes", "Look for notes without a title.\n\n"
                        "Schedule: every 6h", labels=["plait"])  # fmt: skip
        gh.inject(Fault.late_answer(300, route=r"^POST /repos/acme/notes/issues/1/comments$"))
        skew = tmp_path / "clock-skew"
        skew.write_text("0")
        env = make_project(gh, tmp_path, SCRIPT, PLAIT_TEST_CLOCK_SKEW=str(skew))
        log = tmp_path / "engine.log"
        engines: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            engines.append(start_engine(log, env, [CLOCKED, "up", "notes", "--foreground"]))

        try:
            start()
            _until(lambda: bool(_meta(tmp_path, "source:issues:1:anchor")), 60,
                   "the schedule noted", log)  # fmt: skip
            skew.write_text(str(HOURS6))
            # The first check ran and found work; its report is on GitHub, unanswered.
            _until(lambda: len(_reports(gh)) == 1, 90, "the first report", log)
            engines[0].send_signal(signal.SIGKILL)
            engines[0].wait(timeout=30)
            assert pending_writes(tmp_path) == 1  # the report, done but not recorded
            start()
            _until(lambda: len(_work_prs(gh)) == 1, 90, "the work task's PR", log)
            skew.write_text(str(2 * HOURS6))
            _until(lambda: len(_reports(gh)) >= 2 and len(_work_prs(gh)) >= 2, 90,
                   "the second due time's report and PR", log)  # fmt: skip
            down = plait("down", "notes", home=tmp_path, env=env)
            assert down.returncode == 0, down.stdout + down.stderr
            engines[-1].wait(timeout=30)
        finally:
            for proc in engines:
                if proc.poll() is None:
                    proc.kill()
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
        store = Store(store_path(tmp_path))
        try:
            added = [t for _, e in store.events() if isinstance(e, ev.TasksAdded) for t in e.tasks]
        finally:
            store.close()
        checks = [t.id for t in added if t.origin == "github-issue-schedule"]
        work = [t.id for t in added if t.origin == "github-issue-schedule-work"]
        assert len(set(checks)) == len(checks) == 2  # one per due time
        assert work == [f"{c}-w1" for c in checks]  # each opened once
        reports = _reports(gh)
        assert [sum(c in r for r in reports) for c in checks] == [1, 1]
        assert all("plait opened task(s) for the work found" in r for r in reports)
        assert _work_prs(gh) == sorted(f"plait/notes/{w}" for w in work)
        issue = gh.issue(OWNER, NAME, 1)
        assert (issue.state, issue.labels) == ("open", ["plait"])
