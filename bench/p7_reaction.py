"""P7 reaction: a dependency lands → its dependents' start begins.

A real engine runs in-process with the script agent (turns that write and commit a file)
over a real git repository: independent pairs `r<i> → d<i>` (each dependent waits for its
root to land: the plan is not stacked), concurrency high enough that no slot is ever what
a dependent waits for. The reaction of one dependent is the time from its root's landing
to the decision that starts it (its worktree being made: the effect is committed, then
dispatched at once):

- local forge: plait merges the root's PR itself; landing = the moment its merge
  effect finished (the `Merged` event's time), so the figure is what the engine adds;
- GitHub double: a person merges the root's PR on the forge (plait's own merge is held
  back by a long merge delay); landing = that merge; plait learns of it by polling, so
  the goal is one poll interval.

Times are wall-clock (`time.time()`, the engine's own clock for event times).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import threading
import time
from pathlib import Path

from bench.common import Figure, Report, median
from bench.p3_overhead import base_env, environ, git, make_repo
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Phase, RunConfig, RunState
from plait.core.plan import TaskSpec
from plait.core.task import attention_reason
from plait.engine.project import build_engine, create_project
from plait.engine.settings import Settings
from plait.testing.github_double import Check, GitHubDouble

TITLE = "reaction: a dependency lands, its dependents start"
LOCAL_GOAL = 1.0  # seconds
POLL = 1.0  # the GitHub poll interval of the run (seconds)
OWNER, NAME = "acme", "app"


def _specs(pairs: int) -> tuple[TaskSpec, ...]:
    out: list[TaskSpec] = []
    for i in range(pairs):
        out.append(TaskSpec(id=f"r{i}", title=f"root {i}"))
        out.append(TaskSpec(id=f"d{i}", title=f"dependent {i}", depends_on=(f"r{i}",)))
    return tuple(out)


def _script(pairs: int) -> str:
    def turn(tid: str) -> list[dict[str, object]]:
        write = {"write": f"{tid}.txt", "content": f"{tid}\n"}
        return [{"say": f"wrote {tid}", "actions": [write, {"commit": f"Add {tid}"}]}]

    tasks = {t.id: {"start": turn(t.id)} for t in _specs(pairs)}
    return json.dumps({"tasks": tasks})


class Reactions:
    """Observer: when each root landed and when each dependent's start was decided."""

    def __init__(self) -> None:
        self.landed: dict[str, float] = {}
        self.started: dict[str, float] = {}

    def observe(
        self, event: ev.Event, old: RunState | None, new: RunState, effects: tuple[fx.Effect, ...]
    ) -> None:
        now = time.time()
        for effect in effects:
            if isinstance(effect, fx.PrepareWorkspace) and effect.task.startswith("d"):
                self.started.setdefault(effect.task, now)
        if isinstance(event, ev.Merged):
            self.landed.setdefault(event.task, event.at)

    def seconds(self) -> list[float]:
        return [
            self.started[d] - self.landed["r" + d[1:]]
            for d in self.started
            if "r" + d[1:] in self.landed
        ]


def _run(settings: Settings, pairs: int, reactions: Reactions, name: str) -> RunState:
    project = create_project(name, settings)
    try:
        engine = build_engine(project, observer=reactions.observe)
        # On GitHub a person merges: plait's own merge waits longer than the run lasts.
        delay = 3600.0 if settings.forge == "github" else 0.0
        # Not stacked: a dependent starts when its root lands, not on the root's green PR.
        config = RunConfig(
            project=name,
            repo=settings.repo,
            max_concurrency=2 * pairs,
            merge_delay=delay,
            stacked=False,
        )
        first = ev.RunStarted(at=time.time(), config=config, tasks=_specs(pairs))
        return asyncio.run(engine.start(first)).state
    finally:
        project.close()


def local(tmp: Path, pairs: int) -> list[float]:
    env = base_env(tmp / "home")
    repo = make_repo(tmp / "repo", env)
    script = tmp / "script.json"
    script.write_text(_script(pairs))
    settings = Settings(repo=str(repo), agent="script", script=str(script), ci_command=["true"])
    reactions = Reactions()
    with environ({**env, "PLAIT_HOME": str(tmp / "plait-home")}):
        state = _run(settings, pairs, reactions, "p7-local")
    _check(state)
    return reactions.seconds()


def github(tmp: Path, pairs: int) -> list[float]:
    env = base_env(tmp / "home")
    with GitHubDouble(root=tmp / "gh") as gh:
        gh.create_repo(OWNER, NAME, files={"README.md": "p7\n"})
        clone = tmp / "clone"
        git(tmp, "clone", "-q", gh.repo_remote_url(OWNER, NAME), str(clone), env=env)
        git(clone, "config", "user.name", "Plait Bench", env=env)
        git(clone, "config", "user.email", "bench@plait.invalid", env=env)
        script = tmp / "script.json"
        script.write_text(_script(pairs))
        settings = Settings(
            repo=str(clone),
            forge="github",
            github_api_url=gh.api_url,
            slug=f"{OWNER}/{NAME}",
            agent="script",
            script=str(script),
            poll_interval=POLL,
        )
        reactions = Reactions()
        person = _Maintainer(gh, pairs)
        with environ({**env, "PLAIT_HOME": str(tmp / "plait-home"), "GITHUB_TOKEN": "bench"}):
            person.start()
            try:
                state = _run(settings, pairs, reactions, "p7-github")
            finally:
                person.stop()
    _check(state)
    reactions.landed = person.merged_at
    return reactions.seconds()


class _Maintainer(threading.Thread):
    """A person and a CI bot on GitHub: CI passes on every pushed head; each PR plait has
    marked ready (green) is merged at once."""

    def __init__(self, gh: GitHubDouble, pairs: int) -> None:
        super().__init__(daemon=True)
        self.gh, self.pairs = gh, pairs
        self.merged_at: dict[str, float] = {}
        self._done = threading.Event()
        self._green: set[str] = set()

    def stop(self) -> None:
        self._done.set()
        self.join()

    def run(self) -> None:
        while not self._done.wait(0.02):
            for pr in self.gh.pulls(OWNER, NAME):
                if pr.state != "open":
                    continue
                if pr.head_sha not in self._green:
                    self._green.add(pr.head_sha)
                    ci = [Check(name="ci", conclusion="success")]
                    self.gh.set_check_runs(OWNER, NAME, pr.head_sha, ci)
                if pr.draft:
                    continue
                # When the person clicks: the merge's own time counts as reaction time too.
                self.merged_at.setdefault(pr.head.rsplit("/", 1)[-1], time.time())
                self.gh.merge_pr(OWNER, NAME, pr.number)


def _check(state: RunState) -> None:
    unmerged = {
        t.id: attention_reason(t, state.config) or t.stopped or t.phase.value
        for t in state.tasks.values()
        if t.phase is not Phase.MERGED
    }
    if unmerged:
        raise RuntimeError(f"tasks not landed: {unmerged}")


def run(quick: bool = False) -> Report:
    pairs = 2 if quick else 6
    report = Report(id="P7", title=TITLE, quick=quick)
    with tempfile.TemporaryDirectory(prefix="plait-bench-p7-") as tmp:
        near = local(Path(tmp) / "local", pairs)
        far = github(Path(tmp) / "github", pairs)
    worst = max(near, default=float("inf"))
    report.add(
        Figure(
            name=f"local forge: slowest of {len(near)} dependents (median {median(near):.3f} s)",
            value=worst,
            unit="s",
            goal=f"< {LOCAL_GOAL:g} s",
            passed=worst < LOCAL_GOAL,
        )
    )
    # A merge just after a poll began is seen by the next poll, once that poll returns: the
    # slowest reaction is one interval plus a poll's own time. The typical one is gated.
    typical = median(far) if far else float("inf")
    report.add(
        Figure(
            name=f"GitHub double, a person merges, poll every {POLL:g} s: median of "
            f"{len(far)} dependents",
            value=typical,
            unit="s",
            goal=f"<= {POLL:g} s (one poll interval)",
            passed=typical <= POLL,
        )
    )
    report.add(
        Figure(name="GitHub double: slowest dependent", value=max(far, default=0.0), unit="s",
               goal="")
    )  # fmt: skip
    return report


if __name__ == "__main__":
    print(run(quick=False).render())
