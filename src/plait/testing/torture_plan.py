"""kill -9 torture of a plan (R1): `plait run PLAN` killed at seeded random moments and
resumed (`plait resume`) until every task landed, on the local forge or the GitHub double.

The plan: `tasks` patches in groups of ten (a root, four tasks on it that start stacked,
a join of two, a chain of four), the script agent, a CI that fails a commit holding
`BROKEN`, and in each group:
- one task whose first commit breaks CI (a CI fix turn follows);
- two tasks that write the same file differently, so whichever lands second conflicts
  (a conflict turn merges main and keeps both);
- one task a reviewer agent asks to change once (`[review] prs = true`; a needs-changes
  verdict posted on the PR, a changes turn, an approval).
Notifications go to a webhook receiver. On the GitHub double a bot plays CI (a check run
on each new PR head).

What must hold at the end, however often the engine died (`PlanResult.problems`): every
task merged; one PR per task, merged once; no comment, reply, review or label posted twice;
main holds each task's change exactly once (one commit adding its file, the final
contents); no notification episode told twice under two ids; no agent or CI process left
running; no temp folder left; and the store passed `PRAGMA integrity_check` after each kill.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plait.testing.github_double import GitHubDouble
from plait.testing.github_double.checks import Check
from plait.testing.gitrepo import GitRepo, run_git
from plait.testing.torture import (
    KillLoop,
    Log,
    LoopResult,
    files_holding,
    orphans,
    repeated,
    torture_env,
)
from plait.testing.webhook import WebhookReceiver

PROJECT = "torture"
OWNER, NAME = "acme", "torture"
TOKEN = "ghp_torture0123456789secret"  # noqa: S105 (a fake forge token; S1 scans for it)
CI = "sh -c '! grep -rqs BROKEN src'"
GROUP = 10
# About how many events one task of this plan decides (what spreads the kills over the
# run; measured: 13 on the local forge, 9 on the GitHub double where CI is not an event).
EVENTS_PER_TASK = {"local": 13, "github": 9}


def deps(n: int) -> dict[int, tuple[int, ...]]:
    out: dict[int, tuple[int, ...]] = {}
    for i in range(1, n + 1):
        base, k = ((i - 1) // GROUP) * GROUP, (i - 1) % GROUP
        d = (
            ()
            if k == 0
            else (base + 1,)
            if k <= 4
            else (base + 2, base + 3)
            if k == 5
            else (base + k,)
        )
        out[i] = tuple(x for x in d if x <= n)
    return out


def role(i: int) -> str:
    k = (i - 1) % GROUP
    return {1: "ci", 3: "conflict", 4: "conflict", 7: "review"}.get(k, "plain")


def plan_markdown(n: int) -> str:
    out = ["# Gameplan: torture", "", "## Problem Statement", "", "Many small changes.", ""]
    out += ["## Patches", ""]
    graph = deps(n)
    for i in graph:
        out += [f"### Patch {i} [INFRA]: Change module {i}", "", f"Write src/mod_{i}.py.", ""]
    out += ["## Dependency Graph", ""]
    out += [f"- Patch {i} [INFRA] -> [{', '.join(map(str, d))}]" for i, d in graph.items()]
    return "\n".join(out) + "\n"


def _turn(say: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {"say": say, "actions": list(actions)}


def _shared(i: int) -> str:
    return f"src/shared_{(i - 1) // GROUP}.py"


def final_files(n: int) -> dict[str, tuple[str, ...]]:
    """What main may hold at the end, per file. A review task's note is there once, or
    not at all: a needs-changes verdict cut off by a kill is asked again, and the
    reviewer's second answer approves."""
    files: dict[str, tuple[str, ...]] = {
        f"src/mod_{i}.py": (f"X = {i}\n",) for i in range(1, n + 1)
    }
    for i in range(1, n + 1):
        if role(i) == "review":
            files[f"src/mod_{i}.py"] += (f"X = {i}\n# reviewed\n",)
        if role(i) == "conflict":
            files[_shared(i)] = ("A = 1\nB = 2\n",)
    return files


def script(n: int) -> dict[str, Any]:
    """Every turn a kill cuts off is continued (or nudged) without the agent knowing which
    turn it was, so a continued turn does whatever finishes the task's work, whichever
    turn it continues, and always ends with a new commit (an empty one if need be: a CI
    or conflict turn that commits nothing counts as a failed turn)."""
    tasks: dict[str, Any] = {}
    for i in range(1, n + 1):
        path = f"src/mod_{i}.py"
        mine: dict[str, Any] = {"write": path, "content": f"X = {i}\n"}
        again: dict[str, Any] = {
            "run": ["git", "commit", "-q", "--allow-empty", "-m", f"module {i} again"]
        }
        commit: dict[str, Any] = {"commit": f"module {i}"}
        start = [mine, commit]
        finish = [mine, commit, again]
        if role(i) == "ci":
            start = [{"write": path, "content": "BROKEN\n"}, commit]
        if role(i) == "conflict":
            own = "A = 1\n" if (i - 1) % GROUP == 3 else "B = 2\n"
            start = [mine, {"write": _shared(i), "content": own}, commit]
            both = {"write": _shared(i), "content": "A = 1\nB = 2\n"}
            # merge fails harmlessly in a continued start turn (no branch to merge).
            finish = [{"merge": True}, mine, both, commit, again]
        if role(i) == "review":
            note = {"run": ["sh", "-c", f"grep -qs reviewed {path} || echo '# reviewed' >> {path}"]}
            finish = [mine, note, commit, again]
        kinds: dict[str, Any] = {"start": [_turn(f"wrote {path}", *start)]}
        for kind in ("continue", "nudge", "wrapup", "ci", "conflict", "review", "changes"):
            # The reviewer's needs-changes verdict reaches the worker as a thread on the
            # PR (a "review" turn) or, without PR reviews, as a "changes" turn.
            kinds[kind] = [_turn(f"finished {path}", *finish)]
        if role(i) == "review":
            kinds["verdict"] = [
                {"say": f"VERDICT: NEEDS_CHANGES\n1. {path}: add a review note"},
                {"say": "VERDICT: APPROVED"},
            ]
        tasks[str(i)] = kinds
    return {"tasks": tasks, "default": {"verdict": [{"say": "VERDICT: APPROVED"}]}}


PLAIT_TOML = """\
[review]
reviewers = [{agent = "script"}]
prs = true
"""


@dataclass
class PlanResult:
    forge: str
    tasks: int
    loop: LoopResult
    statuses: dict[str, str] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)  # PRs, comments, merges… twice
    main_problems: list[str] = field(default_factory=list)
    notifications: int = 0
    orphans: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)  # files plait wrote holding the token

    def problems(self) -> list[str]:
        out = list(self.loop.problems)
        lost = sorted((t for t, s in self.statuses.items() if s != "merged"), key=_num)
        if len(self.statuses) != self.tasks:
            out.append(f"{len(self.statuses)} tasks in the project, want {self.tasks}")
        if lost:
            out.append(f"not merged: {[(t, self.statuses[t]) for t in lost]}")
        out += [f"twice: {d}" for d in self.duplicates]
        out += [f"main: {p}" for p in self.main_problems]
        if self.orphans:
            out.append(f"processes left: {self.orphans}")
        if self.leftovers:
            out.append(f"temp folders left: {self.leftovers}")
        if self.leaks:
            out.append(f"the forge token in: {self.leaks}")
        return out


def _num(task: str) -> int:
    return int(task) if task.isdecimal() else 0


class PlanTorture:
    def __init__(self, tmp: Path, *, tasks: int = 30, forge: str = "local", seed: int = 0):
        assert forge in ("local", "github"), forge
        self.tmp, self.tasks, self.forge, self.seed = tmp, tasks, forge, seed
        self.env = torture_env(tmp)
        self.env["GITHUB_TOKEN"] = TOKEN
        (tmp / "plan.md").write_text(plan_markdown(tasks))
        (tmp / "script.json").write_text(json.dumps(script(tasks)))
        self.github: GitHubDouble | None = None
        self.hook = WebhookReceiver()
        self.repo = tmp / "repo"

    @property
    def project_dir(self) -> Path:
        return Path(self.env["PLAIT_HOME"]) / "projects" / PROJECT

    def argv(self, run: int) -> list[str]:
        cli = [sys.executable, "-m", "plait.cli"]
        # A kill before the run was recorded leaves a project without settings, which
        # `resume` refuses ("start it again"): then it is started again.
        if run > 1 and started(self.project_dir / "plait.db"):
            return [*cli, "resume", PROJECT, "--json"]
        args = [*cli, "run", str(self.tmp / "plan.md"), "--repo", str(self.repo)]
        args += ["--project", PROJECT, "--script", str(self.tmp / "script.json"), "--json"]
        args += ["--max-concurrency", "4", "--notify-webhook", self.hook.url]
        if self.forge == "local":
            return [*args, "--ci", CI]
        assert self.github is not None
        return [*args, "--forge", "github", "--github-url", self.github.api_url,
                "--poll-interval", "0.3"]  # fmt: skip

    def run(self, kills: int, *, timeout: float = 1800.0, log: Log | None = None) -> PlanResult:
        # Aims average span/2 events: the kills spread over about the first 3/4 of the run.
        # One kill alone (the quick form) aims within the first 3/4 of the run too, not
        # anywhere in one and a half runs, which let a short run end before its kill.
        events = EVENTS_PER_TASK[self.forge] * self.tasks
        span = max(2, min(3 * events // (2 * max(1, kills)), 3 * events // 4))
        # On the local forge a run is quick now (worktrees made ahead, batched commits):
        # a 0.3 s wait after the aimed event let so much land that 100 kills of 30 tasks
        # ran out of work after 73, so the kill comes sooner after its event there.
        jitter = 0.1 if self.forge == "local" else 0.3
        loop = KillLoop(
            db=self.project_dir / "plait.db", env=self.env, logs=self.tmp / "logs",
            seed=self.seed, span=span, jitter=jitter,
        )  # fmt: skip
        with self.hook, self._forge() as bot:
            result = loop.run(self.argv, kills, timeout=timeout, log=log, done=self._landed)
            plan = PlanResult(forge=self.forge, tasks=self.tasks, loop=result)
            if bot is not None:
                bot.stop()
                plan.loop.problems += bot.errors
            self._collect(plan)
        return plan

    def _forge(self) -> _ForgeWorld:
        if self.forge == "local":
            files = {"README.md": "torture\n", "plait.toml": PLAIT_TOML}
            GitRepo.init(self.repo, files=files)
            return _ForgeWorld(None)
        self.github = GitHubDouble(root=self.tmp / "github")
        self.github.start()
        # The reviewer runs on GitHub too, with no second account: its needs-changes
        # verdict goes out as a comment review for people and reaches the worker from
        # the store (`Reviewed.comes_back`).
        files = {"README.md": "torture\n", "plait.toml": PLAIT_TOML}
        self.github.create_repo(OWNER, NAME, files=files)
        run_git("clone", "-q", self.github.repo_remote_url(OWNER, NAME), str(self.repo),
                cwd=self.tmp, env=self.env)  # fmt: skip
        for key, value in (("user.name", "dev"), ("user.email", "dev@example.invalid")):
            run_git("config", key, value, cwd=self.repo, env=self.env)
        return _ForgeWorld(_CIBot(self.github))

    # ---- what must hold -----------------------------------------------------------------
    def _collect(self, plan: PlanResult) -> None:
        rows = self._plait("ps", "--all", "-p", PROJECT, "--json")
        plan.statuses = {str(r["id"]): str(r["status"]) for r in rows}
        main_repo = self.repo if self.github is None else self.github.repo_path(OWNER, NAME)
        plan.main_problems = main_problems(main_repo, self.tasks)
        plan.duplicates = (
            self._local_duplicates() if self.github is None else github_duplicates(self.github)
        )
        plan.duplicates += notification_duplicates(self.hook)
        plan.notifications = len(self.hook.delivered())
        plan.orphans = orphans(self.project_dir, self.tmp / "tmpdir", self.repo)
        written = (self.project_dir.parent.parent, self.repo, self.tmp / "tmpdir")
        plan.leaks = files_holding({"forge token": TOKEN}, *written)
        plan.leftovers = [
            p.name for p in (self.tmp / "tmpdir").iterdir() if p.name != f"plait-{os.getuid()}"
        ]

    def _local_duplicates(self) -> list[str]:
        import sqlite3

        db = sqlite3.connect(f"file:{self.project_dir / 'plait.db'}?mode=ro", uri=True)
        try:
            prs = Counter(t for (t,) in db.execute("SELECT task FROM forge_prs"))
            threads = Counter(
                f"PR #{pr}: {body[:60]!r}"
                for pr, body in db.execute("SELECT pr, body FROM forge_threads")
            )
        finally:
            db.close()
        return [f"PR of task {d}" for d in repeated(prs)] + [
            f"review thread {d}" for d in repeated(threads)
        ]

    def _landed(self) -> bool:
        rows = self._plait("ps", "--all", "-p", PROJECT, "--json")
        return len(rows) == self.tasks and all(r["status"] == "merged" for r in rows)

    def _plait(self, *args: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "plait.cli", *args], env=self.env, capture_output=True,
            text=True, timeout=120, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise AssertionError(f"plait {' '.join(args)}: {done.stderr[-2000:]}")
        return json.loads(done.stdout)


def started(db: Path) -> bool:
    """Whether the project's run was recorded (its first event committed)."""
    return KillLoop(db=db, env={}, logs=db.parent, seed=0).decided() > 0


def main_problems(repo: Path, tasks: int) -> list[str]:
    """Main must hold each task's change once: one commit adds each task's file, one commit
    per task, and the final contents."""
    out = []
    for i in range(1, tasks + 1):
        path = f"src/mod_{i}.py"
        added = run_git("log", "--format=%H", "--diff-filter=A", "main", "--", path, cwd=repo)
        if len(added.split()) != 1:
            out.append(f"{path} added by {len(added.split())} commits")
    commits = run_git("rev-list", "--first-parent", "--count", "main", cwd=repo).strip()
    if int(commits) != tasks + 1:
        out.append(f"{commits} commits on main, want {tasks + 1} (the first and one per task)")
    for path, want in final_files(tasks).items():
        done = subprocess.run(
            ["git", "show", f"main:{path}"], cwd=repo, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        if done.stdout not in want:
            out.append(f"{path} holds {done.stdout!r}, want {' or '.join(map(repr, want))}")
    return out


def github_duplicates(gh: GitHubDouble) -> list[str]:
    pulls = gh.pulls(OWNER, NAME)
    out = [f"PR of branch {d}" for d in repeated(Counter(p.head for p in pulls))]
    out += [f"PR not merged: #{p.number} {p.head}" for p in pulls if not p.merged]
    for pr in pulls:
        out += [f"comment on #{pr.number}: {d}" for d in repeated(
            Counter(c.body for c in pr.comments))]  # fmt: skip
        for thread in pr.threads:
            bodies = Counter(c.body for c in thread.comments)
            out += [f"reply in a thread of #{pr.number}: {d}" for d in repeated(bodies)]
        reviews = Counter(f"{r.author} {r.state} {r.body}" for r in pr.reviews)
        out += [f"review on #{pr.number}: {d}" for d in repeated(reviews)]
        out += [f"label on #{pr.number}: {d}" for d in repeated(Counter(pr.labels))]
    # Each PR opened once and closed (merged) once.
    events = Counter(
        f"{e['payload'].get('action')} #{e['payload'].get('number')}"
        for e in gh.repo(OWNER, NAME).events
        if e["type"] == "PullRequestEvent"
    )
    return out + [f"event {d}" for d in repeated(events)]


def notification_duplicates(hook: WebhookReceiver) -> list[str]:
    """A notification sent again after a crash carries its id (the Idempotency-Key): that
    is allowed. The same episode (kind, task, title) under two ids is a duplicate."""
    ids: dict[str, set[str]] = {}
    for got in hook.delivered():
        body = got.body if isinstance(got.body, dict) else {}
        episode = f"{body.get('kind')} {body.get('task')} {body.get('title')!r}"
        ids.setdefault(episode, set()).add(got.headers.get("Idempotency-Key", ""))
    return [f"notification {e} ×{len(k)}" for e, k in sorted(ids.items()) if len(k) > 1]


class _ForgeWorld:
    """The forge's side for the length of a torture run: nothing (local) or a CI bot."""

    def __init__(self, bot: _CIBot | None) -> None:
        self.bot = bot

    def __enter__(self) -> _CIBot | None:
        if self.bot is not None:
            self.bot.thread.start()
        return self.bot

    def __exit__(self, *exc: object) -> None:
        if self.bot is not None:
            self.bot.stop()
            self.bot.gh.stop()


class _CIBot:
    """CI on the GitHub double: a check run on every new PR head, failed when the head
    holds BROKEN."""

    def __init__(self, gh: GitHubDouble) -> None:
        self.gh = gh
        self.seen: set[str] = set()
        self.errors: list[str] = []
        self.halt = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def stop(self) -> None:
        self.halt.set()
        if self.thread.is_alive():
            self.thread.join(timeout=10)

    def _run(self) -> None:
        try:
            while not self.halt.wait(0.1):
                self._cycle()
        except Exception as exc:  # reported with the run's problems
            self.errors.append(f"CI bot: {exc!r}")

    def _cycle(self) -> None:
        bare = self.gh.repo_path(OWNER, NAME)
        for pr in self.gh.pulls(OWNER, NAME):
            if pr.state != "open" or pr.head_sha in self.seen:
                continue
            self.seen.add(pr.head_sha)
            grep = subprocess.run(
                ["git", "grep", "-q", "BROKEN", pr.head_sha, "--", "src"], cwd=bare,
                env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
                check=False,
            )  # fmt: skip
            broken = grep.returncode == 0
            conclusion = "failure" if broken else "success"
            check = Check(name="ci", conclusion=conclusion, log="BROKEN\n" if broken else "ok\n")
            self.gh.set_check_runs(OWNER, NAME, pr.head_sha, [check])
