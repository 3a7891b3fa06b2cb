"""The risk gate and classes by path against the GitHub double, through a real `plait up`
engine killed with SIGKILL twice: while a risk assessment writes its PR label, and while
the second reviewer of a double-check PR is thinking.

Five labelled issues: one touches a migration (tier human: labelled, left to a person,
never merged by plait), one touches src/auth (double-check: the [review] reviewer and then
the double-check reviewer each approve the same head as their own GitHub review before it
merges), one only docs (low: merged), and two touch e2e/ (class E2E by path). A green
check lands on every head at once, so only the gate can hold a merge back. After the kill
and restarts, the double-check PR has exactly two reviews, each head was assessed (its
`RiskAssessed` recorded) exactly once, each PR carries one risk label, and `plait ps`
shows the tiers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from plait.core import events as ev
from plait.core.model import Phase
from plait.store.sqlite import Store
from plait.testing.github_double import Fault, GitHubDouble
from plait.testing.github_double.state import PullRequest
from tests.cli.helpers_cli import cli_env, plait
from tests.engine.test_github_issues_e2e import CI, _git, _until

OWNER, NAME = "acme", "notes"
TOML = """[issues]
labels = ["plait"]
poll = 0.5
launches_per_poll = 5

[review]
prs = true

[risk]
human = ["migrations/**"]
double_check = ["src/auth/**"]
double_check_reviewer = "script"

[classes.E2E]
exclusive = true
paths = ["e2e/**"]
"""
ISSUES = {
    1: ("Add a column", "migrations/001_column.sql"),
    2: ("Harden the login", "src/auth/login.py"),
    3: ("Fix the docs", "docs/usage.md"),
    4: ("Test the search", "e2e/search.txt"),
    5: ("Test the upload", "e2e/upload.txt"),
}


def _script() -> dict[str, object]:
    tasks: dict[str, object] = {
        f"issue-{n}": {"start": [{"say": "done", "actions": [
            {"write": path, "content": f"{title}\n"}, {"commit": title},
        ]}]}
        for n, (title, path) in ISSUES.items()
    }  # fmt: skip
    # Each of issue 2's reviewers thinks for a while: long enough to be killed mid-turn.
    tasks["issue-2"]["verdict"] = [  # type: ignore[index]
        {"say": "VERDICT: APPROVED", "actions": [{"sleep": 3}]}
    ]
    return {"tasks": tasks, "default": {"verdict": [{"say": "VERDICT: APPROVED"}]}}


@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    accounts = {"double-token": "plait-bot", "reviewer-token": "reviewer-bot"}
    with GitHubDouble(root=tmp_path / "github", tokens=accounts) as double:
        yield double


def _pr_of(gh: GitHubDouble, n: int) -> PullRequest | None:
    return next((p for p in gh.pulls(OWNER, NAME) if p.head.endswith(f"issue-{n}")), None)


@dataclass
class _Engine:
    """`plait up --foreground` processes, one at a time, all writing to `log`."""

    env: dict[str, str]
    log: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def up(self) -> None:
        argv = [sys.executable, "-m", "plait.cli", "up", "notes", "--foreground"]
        with self.log.open("a") as out:
            self.procs.append(subprocess.Popen(argv, env=self.env, stdout=out, stderr=out))

    def kill(self) -> None:
        self.procs[-1].send_signal(signal.SIGKILL)
        self.procs[-1].wait(timeout=30)


@contextmanager
def _engines(gh: GitHubDouble, env: dict[str, str], log: Path) -> Iterator[_Engine]:
    """Engines run while a CI bot greens every head; whatever is left is killed after."""
    ci = CI(gh)
    bot = threading.Thread(target=ci.run, daemon=True)
    bot.start()
    engine = _Engine(env=env, log=log)
    try:
        yield engine
        engine.procs[-1].wait(timeout=30)
    finally:
        ci.stop.set()
        bot.join(timeout=10)
        for proc in engine.procs:
            if proc.poll() is None:
                proc.kill()
    assert not ci.errors, ci.errors
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.mark.timeout(240)
def test_prs_are_routed_by_their_risk_across_a_kill(tmp_path: Path, gh: GitHubDouble) -> None:
    gh.create_repo(OWNER, NAME, files={"README.md": "notes\n", "plait.toml": TOML})
    for title, path in ISSUES.values():
        gh.create_issue(OWNER, NAME, title, f"Write {path}.", labels=["plait"])
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", gh.repo_remote_url(OWNER, NAME), str(clone))
    script = tmp_path / "script.json"
    script.write_text(json.dumps(_script()))
    env = cli_env(tmp_path, GITHUB_TOKEN="double-token", PLAIT_REVIEWER_TOKEN="reviewer-token")
    made = plait("init", "--repo", str(clone), "--forge", "github", "--github-url", gh.api_url,
                 "--script", str(script), "--poll-interval", "0.3", "--project", "notes",
                 home=tmp_path, env=env)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    log = tmp_path / "engine.log"

    def reviews(n: int) -> list[tuple[str, str]]:
        pr = _pr_of(gh, n)
        return [(r.author, r.state) for r in pr.reviews] if pr else []

    # The first risk label on a PR (PRs are numbered after the five issues) is held by the
    # double: the engine is killed in the middle of that assessment.
    held = Fault.timeout(8.0, route=r"^POST /repos/acme/notes/issues/([6-9]|10)/labels$")
    gh.inject(held)
    with _engines(gh, env, log) as engine:
        engine.up()
        _until(lambda: held.hits == 1, 120, "a first risk label on its way", log)
        engine.kill()
        engine.up()
        # The first reviewer approved issue 2's PR: its second reviewer is thinking now.
        _until(lambda: len(reviews(2)) == 1, 120, "the first review of issue 2", log)
        assert not getattr(_pr_of(gh, 2), "merged", True)
        engine.kill()
        engine.up()

        def routed() -> bool:
            human = _pr_of(gh, 1)
            return all(gh.issue(OWNER, NAME, n).state == "closed" for n in (2, 3, 4, 5)) and (
                human is not None and "plait:risk-human" in human.labels
            )

        _until(routed, 150, "issues 2-5 closed and issue 1's PR routed to a person", log)
        shown = plait("ps", "--all", home=tmp_path, env=env)
        down = plait("down", "notes", home=tmp_path, env=env)
        assert down.returncode == 0, down.stdout + down.stderr
    prs = {n: _pr_of(gh, n) for n in ISSUES}
    assert all(pr is not None for pr in prs.values())
    tiers = {
        n: [x for x in pr.labels if x.startswith("plait:risk-")] for n, pr in prs.items() if pr
    }
    low = ["plait:risk-low"]
    assert tiers == {1: ["plait:risk-human"], 2: ["plait:risk-double-check"], 3: low, 4: low,
                     5: low}  # fmt: skip
    assert [n for n, pr in prs.items() if pr and pr.merged] == [2, 3, 4, 5]
    # Two verdicts on one head, each its own review: the second reviewer, killed halfway
    # through its turn, judged again once.
    assert reviews(2) == [("reviewer-bot", "APPROVED"), ("reviewer-bot", "APPROVED")]
    assert all(len(reviews(n)) == 1 for n in (3, 4, 5))
    store = Store(next((tmp_path / "plait-home").rglob("*.db")))
    try:
        state = store.load()
        assessed = [
            (e.task, e.head_sha) for _, e in store.events() if isinstance(e, ev.RiskAssessed)
        ]
    finally:
        store.close()
    assert state is not None
    assert len(assessed) == len(set(assessed)) == 5, assessed  # one per PR head, once
    assert state.specs["issue-1"].landing == "watch"
    assert state.tasks["issue-1"].phase is Phase.ACTIVE
    assert [state.tasks[f"issue-{n}"].path_classes for n in (3, 4, 5)] == [(), ("E2E",), ("E2E",)]
    rows = {
        line.split()[0]: line for line in shown.stdout.splitlines() if line.startswith("issue-")
    }
    assert [rows[f"issue-{n}"].split()[4] for n in (1, 2, 3)] == ["human", "double-check", "low"]
