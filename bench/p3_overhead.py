"""P3 orchestration overhead: plait end to end vs a bare process pool over the same runs.

How this works. N independent tasks (20; 4 with `--quick`) each ask the REAL Claude Code
CLI, pointed at a `ModelAPIDouble` (in a process of its own, as a model API is), for one
turn: a shell call that writes a module and commits it, then a final text (the double
routes each task's prompt to its own script by its title). The same N runs are made
twice, at the same concurrency (4):

- bare: the claude processes alone, over worktrees made beforehand, through a pool of
  CONCURRENCY workers (what `xargs -P 4` over the same command lines would do);
- plait: the whole engine in-process — worktree per task, agent turn, push, a PR on the
  local forge, CI (`true`), merge and cleanup — until every task is on `main`.

The figure is wall(plait) / wall(bare), the median over ROUNDS rounds (3; one with
`--quick`), bare going first in every other round: on two cores the agents alone keep
both cores busy, and one pair of runs of the same code gave anything from 1.09 to 1.61.
Every engine event is observed with its time, so the report also says where plait's
extra time went in the median round: before the first agent starts, gaps in agent slots
between turns (worktree, finish-turn git), agent turns themselves (slower or not than
bare ones), and the tail after the last turn (push, PR, CI and polling, merge).

Run: `python -m bench P3 [--quick]` or, alone, `python -m bench.p3_overhead [--quick]
[--rounds N]` (`PLAIT_BENCH_P3_ROUNDS` sets the rounds for `python -m bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Figure, Report, median
from plait.agents.base import AgentBackend, TurnSpec
from plait.agents.prompts import render_prompt
from plait.agents.registry import BACKENDS
from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import CIStatus, Phase, RunConfig, RunState
from plait.engine.project import build_engine, create_project
from plait.engine.settings import Settings
from plait.plans import load_plan
from plait.testing.model_api import ModelAPIDouble, shell_turn
from plait.testing.model_api_clis import ModelAPI, agent_clis_bin, cli_options

TITLE = "orchestration overhead vs bare agent runs (real claude CLI)"
GOAL = 1.10
CONCURRENCY = 4
PREPARE_AHEAD = int(os.environ.get("PLAIT_BENCH_PREPARE_AHEAD", CONCURRENCY))
IN_PROCESS_DOUBLE = os.environ.get("PLAIT_BENCH_DOUBLE_IN_PROCESS", "") == "1"
# Rounds of (bare, plait), the figure their median ratio: on two cores one pair of runs
# of the same code gave 1.09 to 1.61 (the agents alone keep both cores busy).
ROUNDS = int(os.environ.get("PLAIT_BENCH_P3_ROUNDS", "3"))
PROJECT = "p3-bench"
WARM_UP = "Warm up the CLI"


def _title(i: int) -> str:
    return f"Add module m{i:02d}"


def _command(i: int) -> str:
    name = f"m{i:02d}.py"
    return f"printf 'VALUE = {i}\\n' > {name} && git add {name} && git commit -qm 'Add {name}'"


def make_double(n: int) -> ModelAPIDouble:
    api = ModelAPIDouble()
    api.add_route(WARM_UP, shell_turn("true", text="Warm."))
    for i in range(1, n + 1):
        api.add_route(_title(i), shell_turn(_command(i), text=f"Added m{i:02d}.py."))
    return api


@dataclass(frozen=True, slots=True)
class ServedDouble:
    url: str


@contextmanager
def served_double(n: int) -> Iterator[ModelAPI]:
    """The double for both sides, in a process of its own, as a model API is to plait. A
    double in the benchmark's process answers only when the thread running plait lets go
    of the GIL, so plait's own work there would slow the agents' turns (bare's side only
    waits). `PLAIT_BENCH_DOUBLE_IN_PROCESS=1` keeps it here, as before."""
    if IN_PROCESS_DOUBLE:
        with make_double(n) as api:
            yield api
        return
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, *sys.path)))}
    argv = [sys.executable, "-m", "bench.p3_overhead", "--serve-double", str(n)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url:
            raise RuntimeError(f"the model-API double did not start (exit {proc.wait()})")
        yield ServedDouble(url)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()  # the double's process ends when its stdin does
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def serve_double(n: int) -> None:
    """`--serve-double N`: the double on a free port, its URL on stdout, until stdin ends."""
    with make_double(n) as api:
        print(api.url, flush=True)
        sys.stdin.read()


# ---- environment and git ---------------------------------------------------------------
def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), LANG="C.UTF-8", GIT_CONFIG_NOSYSTEM="1")
    return env


def git(cwd: Path, *args: str, env: Mapping[str, str]) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {cwd}: {done.stderr.strip()}")
    return done.stdout.strip()


def make_repo(path: Path, env: Mapping[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main", env=env)
    git(path, "config", "user.name", "Plait Bench", env=env)
    git(path, "config", "user.email", "bench@plait.invalid", env=env)
    git(path, "config", "commit.gpgsign", "false", env=env)
    (path / "README.md").write_text("# p3\n")
    git(path, "add", "-A", env=env)
    git(path, "commit", "-q", "-m", "initial", env=env)
    return path


def plan_markdown(n: int) -> str:
    out = ["# Gameplan: p3 bench", "", "## Patches", ""]
    for i in range(1, n + 1):
        out += [f"### Patch {i} [INFRA]: {_title(i)}", "", f"Write m{i:02d}.py.", ""]
    out += ["## Dependency Graph", ""]
    out += [f"- Patch {i} [INFRA] -> []" for i in range(1, n + 1)]
    return "\n".join(out) + "\n"


def _prompt(i: int) -> str:
    """The prompt plait renders for task i's start turn, so both sides send the same."""
    turn = fx.Turn(
        kind="start",
        title=_title(i),
        description=f"Write m{i:02d}.py.",
        branch=f"plait/{PROJECT}/{i}",
        base_branch="main",
    )
    return render_prompt(turn)


def _run_cli(backend: AgentBackend, spec: TurnSpec, env: Mapping[str, str]) -> float:
    """One bare agent run to completion, output discarded; its duration."""
    start = time.perf_counter()
    subprocess.run(
        backend.argv(spec),
        cwd=spec.workdir,
        env=backend.env(env, spec),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        timeout=300,
        check=False,
    )
    return time.perf_counter() - start


def _warm_up(tmp: Path, backend: AgentBackend, env: Mapping[str, str], name: str) -> None:
    """One untimed run in the CLI's config home: first runs write config and caches."""
    repo = make_repo(tmp / f"warm-{name}", env)
    _run_cli(backend, TurnSpec(prompt=f"# Task: {WARM_UP}", workdir=str(repo)), env)


# ---- bare ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CPU:
    """CPU seconds (user + sys) over one side's timed part: of this process and of the
    processes it started and reaped meanwhile (agents and their tools, plait's gits, CI)."""

    own: float
    children: float

    @property
    def total(self) -> float:
        return self.own + self.children


@contextmanager
def cpu_meter() -> Iterator[list[CPU]]:
    """Measures the CPU of the block; the figure is in the list once the block ends.
    The double's process is reaped after the side ends, so it is never counted."""

    def now() -> tuple[float, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime

    out: list[CPU] = []
    own0, kids0 = now()
    yield out
    own1, kids1 = now()
    out.append(CPU(own=own1 - own0, children=kids1 - kids0))


@dataclass
class Bare:
    wall: float
    turns: list[float]
    cpu: CPU


def run_bare(tmp: Path, bin_dir: Path, n: int, env0: Mapping[str, str]) -> Bare:
    with served_double(n) as api:
        options, env = cli_options(api, "claude", bin_dir, home=tmp / "claude-bare", base_env=env0)
        backend = BACKENDS["claude"](**options)
        _warm_up(tmp, backend, env, "bare")
        repo = make_repo(tmp / "bare-repo", env)
        specs = []
        for i in range(1, n + 1):  # the worktrees are made beforehand, untimed
            path = tmp / "bare-wt" / str(i)
            git(repo, "worktree", "add", "-q", "-b", f"bare/{i}", str(path), "main", env=env)
            specs.append(TurnSpec(prompt=_prompt(i), workdir=str(path), task_id=str(i)))
        start = time.perf_counter()
        with cpu_meter() as cpu, ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
            turns = list(pool.map(lambda s: _run_cli(backend, s, env), specs))
        wall = time.perf_counter() - start
        missing = [
            i
            for i in range(1, n + 1)
            if git(repo, "rev-list", "--count", f"main..bare/{i}", env=env) != "1"
        ]
        if missing:
            raise RuntimeError(f"bare runs left no commit for tasks {missing}")
        return Bare(wall=wall, turns=turns, cpu=cpu[0])


# ---- plait --------------------------------------------------------------------------------
@dataclass
class Timeline:
    """When (perf_counter) each task reached each step, and its agent turns' seconds."""

    start: float = 0.0
    marks: dict[str, dict[str, float]] = field(default_factory=dict)
    turn_seconds: list[float] = field(default_factory=list)

    def mark(self, task: str, what: str) -> None:
        self.marks.setdefault(task, {}).setdefault(what, time.perf_counter())

    def observe(
        self, event: ev.Event, old: RunState | None, new: RunState, effects: tuple[fx.Effect, ...]
    ) -> None:
        task = getattr(event, "task", "")
        match event:
            case ev.WorkspaceReady():
                self.mark(task, "worktree")
            case ev.AgentFinished():
                self.mark(task, "agent")
                self.turn_seconds.append(event.seconds)
            case ev.Pushed():
                self.mark(task, "push")
            case ev.PROpened():
                self.mark(task, "pr")
            case ev.PRChanged() if event.pr.ci is CIStatus.PASSED:
                self.mark(task, "ci")
            case ev.Merged():
                self.mark(task, "merge")
            case ev.StepDone() if new.tasks[task].phase is Phase.MERGED:
                self.mark(task, "cleanup")
        for effect in effects:
            if isinstance(effect, fx.PrepareWorkspace):
                self.mark(effect.task, "dispatch")
            elif isinstance(effect, fx.RunAgent):
                self.mark(effect.task, "agent_start")


@dataclass
class Plait:
    wall: float
    timeline: Timeline
    cpu: CPU


@contextmanager
def environ(env: Mapping[str, str]) -> Iterator[None]:
    """The engine runs agents with its own process's environment: swap it for the run."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_plait(tmp: Path, bin_dir: Path, n: int, env0: Mapping[str, str]) -> Plait:
    with served_double(n) as api:
        options, env = cli_options(api, "claude", bin_dir, home=tmp / "claude-plait", base_env=env0)
        _warm_up(tmp, BACKENDS["claude"](**options), env, "plait")
        repo = make_repo(tmp / "plait-repo", env)
        (tmp / "plan.md").write_text(plan_markdown(n))
        env = {**env, "PLAIT_HOME": str(tmp / "plait-home")}
        timeline = Timeline()
        with environ(env), cpu_meter() as cpu:
            timeline.start = time.perf_counter()
            state = _engine_run(repo, tmp / "plan.md", options, timeline)
            wall = time.perf_counter() - timeline.start
        unmerged = [t.id for t in state.tasks.values() if t.phase is not Phase.MERGED]
        if unmerged:
            raise RuntimeError(f"plait left tasks unmerged: {unmerged}")
        files = git(repo, "ls-tree", "--name-only", "main", env=env).split()
        if sum(1 for f in files if f.startswith("m")) != n:
            raise RuntimeError(f"main holds {files}, expected {n} modules")
        return Plait(wall=wall, timeline=timeline, cpu=cpu[0])


def _engine_run(
    repo: Path, plan_path: Path, options: Mapping[str, str | int | float | bool], tl: Timeline
) -> RunState:
    plan = load_plan(plan_path)
    settings = Settings(
        repo=str(repo),
        agent="claude",
        ci_command=["true"],
        plan=str(plan_path),
        agent_options=dict(options),
    )
    project = create_project(PROJECT, settings)
    try:
        engine = build_engine(project, observer=tl.observe)
        config = RunConfig(
            project=PROJECT,
            repo=str(repo),
            agent="claude",
            max_concurrency=CONCURRENCY,
            # What `plait run` configures (engine.settings): worktrees made ahead.
            prepare_ahead=PREPARE_AHEAD,
        )
        first = ev.RunStarted(
            at=time.time(), config=config, tasks=plan.tasks, title=plan.title, context=plan.context
        )
        return asyncio.run(engine.start(first)).state
    finally:
        project.close()


# ---- report -------------------------------------------------------------------------------
def _span(marks: Mapping[str, dict[str, float]], a: str, b: str) -> list[float]:
    return [m[b] - m[a] for m in marks.values() if a in m and b in m]


@dataclass(frozen=True, slots=True)
class Part:
    """One share of plait's extra wall time over bare (the shares add up to all of it)."""

    key: str
    label: str
    seconds: float


def overhead_parts(plait: Plait, bare: Bare) -> list[Part]:
    """wall(plait) − wall(bare), split exactly into: before the first turn; agent turns
    slower than bare ones; plait's work around each turn while it holds the slot; agent
    slots idle longer than bare's (worktree and scheduling between turns); after the last
    turn. Turn and slot shares are slot-seconds divided by the concurrency."""
    tl = plait.timeline
    first = min(m["agent_start"] for m in tl.marks.values() if "agent_start" in m)
    last = max(m["agent"] for m in tl.marks.values() if "agent" in m)
    held = sum(_span(tl.marks, "agent_start", "agent"))  # spawn → result event, per turn
    turns = sum(tl.turn_seconds)
    idle_plait = CONCURRENCY * (last - first) - held
    idle_bare = CONCURRENCY * bare.wall - sum(bare.turns)
    c = CONCURRENCY
    return [
        Part("head", "start → first agent turn (project, plan, first worktrees)", first - tl.start),
        Part("turns", "agent turns slower than bare ones", (turns - sum(bare.turns)) / c),
        Part("wrap", "around each turn: finish-turn git, result event", (held - turns) / c),
        Part(
            "gaps",
            "agent slots idle between turns (next worktree, scheduling)",
            (idle_plait - idle_bare) / c,
        ),
        Part(
            "tail",
            "last turn end → all merged (push, PR, CI, polling, merge)",
            tl.start + plait.wall - last,
        ),
    ]


def step_medians(plait: Plait, bare: Bare) -> list[tuple[str, float]]:
    marks, tl = plait.timeline.marks, plait.timeline
    return [
        ("agent turn (plait)", median(tl.turn_seconds)),
        ("agent turn (bare)", median(bare.turns)),
        ("worktree", median(_span(marks, "dispatch", "worktree"))),
        ("push", median(_span(marks, "agent", "push"))),
        ("open PR", median(_span(marks, "push", "pr"))),
        ("CI `true` until a poll sees it", median(_span(marks, "pr", "ci"))),
        ("ready + merge", median(_span(marks, "ci", "merge"))),
        ("cleanup", median(_span(marks, "merge", "cleanup"))),
    ]


def run(quick: bool = False, rounds: int | None = None) -> Report:
    n = 4 if quick else 20
    rounds = rounds if rounds is not None else 1 if quick else ROUNDS
    if rounds < 1:
        raise ValueError(f"P3 needs at least one round, not {rounds}")
    report = Report(id="P3", title=TITLE, quick=quick)
    bin_dir = agent_clis_bin()  # installs the pinned CLIs on first use
    pairs: list[tuple[Bare, Plait]] = []
    for r in range(rounds):
        with tempfile.TemporaryDirectory(prefix="plait-bench-p3-") as name:
            tmp = Path(name)
            env0 = base_env(tmp / "home")
            # Each side goes first in every other round: neither gets the warmer machine.
            if r % 2 == 0:
                bare = run_bare(tmp, bin_dir, n, env0)
                plait = run_plait(tmp, bin_dir, n, env0)
            else:
                plait = run_plait(tmp, bin_dir, n, env0)
                bare = run_bare(tmp, bin_dir, n, env0)
        pairs.append((bare, plait))
    ratios = [p.wall / b.wall for b, p in pairs]
    middle = sorted(range(rounds), key=ratios.__getitem__)[rounds // 2]
    bare, plait = pairs[middle]  # the median round: its figure and its breakdown
    ratio = ratios[middle]
    name = f"plait / bare wall time ({n} tasks, concurrency {CONCURRENCY}"
    name += f", median of {rounds} rounds)" if rounds > 1 else ")"
    report.add(Figure(name=name, value=ratio, unit="x", goal=f"<= {GOAL}", passed=ratio <= GOAL))
    report.add(Figure(name="plait wall time", value=plait.wall, unit="s", goal=""))
    report.add(Figure(name="bare wall time", value=bare.wall, unit="s", goal=""))
    report.add(
        Figure(
            name="CPU per task, bare (its claude runs)", value=bare.cpu.total / n, unit="s", goal=""
        )
    )
    report.add(
        Figure(
            name="CPU per task, plait (its process, agents, gits, CI)",
            value=plait.cpu.total / n,
            unit="s",
            goal="",
        )
    )
    report.add(
        Figure(name="plait's own process CPU per run", value=plait.cpu.own, unit="s", goal="")
    )
    if rounds > 1:
        each = ", ".join(f"{x:.3f}" for x in ratios)
        report.notes.append(f"each round's plait / bare, bare first in rounds 1, 3, ...: {each}")
        report.notes.append(f"the breakdown below is round {middle + 1}'s, the median one")
    cpu_ratios = ", ".join(f"{p.cpu.total / b.cpu.total:.3f}" for b, p in pairs)
    report.notes.append(
        f"CPU, plait / bare: {cpu_ratios} (both sides keep the cores busy: where they do, the"
        " wall ratio follows this one); this round: plait's process"
        f" {plait.cpu.own:.2f} s, what it started {plait.cpu.children:.2f} s; bare"
        f" {bare.cpu.total:.2f} s"
    )
    parts = overhead_parts(plait, bare)
    report.notes.append(f"plait's extra {plait.wall - bare.wall:.2f} s:")
    report.notes += [f"  {p.seconds:6.2f} s  {p.label}" for p in parts]
    report.notes.append("median per task:")
    report.notes += [f"  {s:6.2f} s  {label}" for label, s in step_medians(plait, bare)]
    if ratio > GOAL:
        worst = max(parts, key=lambda p: p.seconds)
        report.notes.append(f"above the goal; the largest share: {worst.label}")
    return report


def _positive(text: str) -> int:
    if not text.isdecimal() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a whole number of rounds, 1 or more, not {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.p3_overhead", description=__doc__)
    p.add_argument("--quick", action="store_true", help="4 tasks instead of 20, one round")
    p.add_argument("--rounds", type=_positive, help=f"rounds of bare and plait (default {ROUNDS})")
    p.add_argument("--json", action="store_true")
    p.add_argument("--serve-double", type=int, metavar="N", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve_double is not None:
        serve_double(args.serve_double)
        return 0
    start = time.perf_counter()
    report = run(args.quick, args.rounds)
    report.seconds = time.perf_counter() - start
    print(json.dumps(report.to_json()) if args.json else report.render())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
