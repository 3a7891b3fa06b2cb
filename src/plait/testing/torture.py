"""kill -9 torture (R1): what every torture run shares, whatever it runs.

How this works. `KillLoop` starts a plait command, picks a moment to SIGKILL it, kills it
there and starts it again, until it has killed it as often as asked; then it lets the
command finish. The moments come from a seeded `random.Random`, so a run is repeatable in
what it aims at (the timing of processes is not):

- most kills aim at work under way: the loop reads how many events the project's store has
  decided, waits until a few more were (1 to `span`), then a little longer (up to
  `jitter`), so the kill lands at some step of some effect rather than only between two;
- some (`early`) aim at the restart itself: a kill at a random moment of its first second
  or two, while the engine reaps what the dead one left and sends its pending effects again.

After every kill the store must pass `PRAGMA integrity_check`. A scenario module
(`torture_plan`) builds the project, says which command starts it and checks what must
hold once the command finished.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from plait import processes
from plait.testing.gitrepo import isolated_home_env, run_git

Log = Callable[[str], None]


@dataclass
class LoopResult:
    kills: int = 0
    runs: int = 0
    seconds: float = 0.0
    exit_codes: list[int] = field(default_factory=list)
    # Each kill: (run, what it aimed at, events decided when it fell).
    moments: list[tuple[int, str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Aim:
    """Where to kill a run: after `events` more decided events and `jitter` seconds, or,
    when `early` is set, that many seconds after it started."""

    events: int = 0
    jitter: float = 0.0
    early: float | None = None

    def describe(self) -> str:
        if self.early is not None:
            return f"{self.early:.2f}s after the start"
        return f"{self.events} events + {self.jitter:.2f}s"


def torture_env(tmp: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment of its own for plait under `tmp`: home, PLAIT_HOME, TMPDIR, no GIT_*
    or PLAIT_* variables from the caller, and this checkout's sources first on the path."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith(("GIT_", "PLAIT_"))}
    env.update(isolated_home_env(tmp / "home"))
    (tmp / "tmpdir").mkdir(parents=True, exist_ok=True)
    env.update(PLAIT_HOME=str(tmp / "plait-home"), TMPDIR=str(tmp / "tmpdir"), LANG="C.UTF-8")
    src = str(Path(__file__).resolve().parents[2])
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    env["PYTHONPATH"] = os.pathsep.join([src, *rest])
    return env


class KillLoop:
    def __init__(
        self,
        *,
        db: Path,
        env: Mapping[str, str],
        logs: Path,
        seed: int,
        span: int = 8,
        jitter: float = 0.3,
        early: float = 0.15,
        ok_codes: Sequence[int] = (0,),
    ) -> None:
        self.db = db
        self.env = dict(env)
        self.logs = logs
        self.rng = random.Random(seed)
        self.span = max(1, span)
        self.jitter = jitter
        self.early = early
        self.ok_codes = tuple(ok_codes)

    def aim(self) -> Aim:
        if self.rng.random() < self.early:
            return Aim(early=self.rng.uniform(0.05, 2.0))
        return Aim(events=self.rng.randint(1, self.span), jitter=self.rng.uniform(0, self.jitter))

    def run(
        self,
        argv: Callable[[int], list[str]],
        kills: int,
        *,
        timeout: float = 900.0,
        log: Log | None = None,
        done: Callable[[], bool] | None = None,
    ) -> LoopResult:
        """Run `argv(n)` (n: 1 for the first run), killing it `kills` times, until a run
        ends by itself. A run that ends with a code not in `ok_codes` ends the loop with
        a problem (its stderr's tail). `done`: whether the work is over; a run that ended
        by itself with the work over ends the loop, however few kills landed (a kill of a
        run with nothing left to do tests nothing)."""
        out = LoopResult()
        started = time.monotonic()
        self.logs.mkdir(parents=True, exist_ok=True)
        while True:
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                out.problems.append(f"did not finish within {timeout:g}s ({out.kills} kills)")
                break
            out.runs += 1
            err_path = self.logs / f"run{out.runs}.err"
            with err_path.open("w") as err:
                proc = subprocess.Popen(
                    argv(out.runs), env=self.env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=err,
                )  # fmt: skip
            aim = self.aim() if out.kills < kills else None
            if aim is not None and self._wait_for(proc, aim, left):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                out.kills += 1
                out.moments.append((out.runs, aim.describe(), self.decided()))
                if log is not None:
                    log(f"kill {out.kills}: run {out.runs} at {aim.describe()}")
                problem = integrity(self.db)
                if problem:
                    out.problems.append(f"after kill {out.kills}: {problem}")
                    break
                continue
            try:
                code = proc.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                out.problems.append(f"run {out.runs} did not finish within {timeout:g}s")
                break
            out.exit_codes.append(code)
            if code not in self.ok_codes:
                tail = err_path.read_text(errors="replace")[-3000:]
                out.problems.append(f"run {out.runs} exited {code}: {tail}")
                break
            if out.kills >= kills or (done is not None and done()):
                break
        out.seconds = time.monotonic() - started
        problem = integrity(self.db)
        if problem:
            out.problems.append(f"at the end: {problem}")
        return out

    def _wait_for(self, proc: subprocess.Popen[bytes], aim: Aim, left: float) -> bool:
        """Wait for the aimed moment; False when the run ended before it."""
        deadline = time.monotonic() + left
        if aim.early is not None:
            try:
                proc.wait(timeout=aim.early)
            except subprocess.TimeoutExpired:
                return True
            return False
        target = self.decided() + aim.events
        while self.decided() < target:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        try:
            proc.wait(timeout=aim.jitter)
        except subprocess.TimeoutExpired:
            return True
        return False

    def decided(self) -> int:
        """How many events the store holds (0 before it exists or while it is busy)."""
        if not self.db.exists():
            return 0
        with contextlib.suppress(sqlite3.Error), contextlib.closing(_read_only(self.db)) as db:
            row = db.execute("SELECT max(seq) FROM events").fetchone()
            return int(row[0] or 0)
        return 0


def _read_only(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)


def integrity(db: Path) -> str:
    """ "" when the store passes SQLite's integrity check (or does not exist yet), else
    what the check said."""
    if not db.exists():
        return ""
    try:
        with contextlib.closing(_read_only(db)) as conn:
            said = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.Error as exc:
        return f"the store cannot be checked: {exc}"
    return "" if said == ["ok"] else f"integrity_check: {'; '.join(said[:5])}"


def orphans(*folders: Path) -> list[str]:
    """Processes still running with their working directory in one of `folders` (what a
    dead engine's agents or CI left and no engine stopped)."""
    found = []
    for folder in folders:
        for proc in processes.under(str(folder)):
            with contextlib.suppress(Exception):
                found.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
    return found


def files_holding(
    secrets: Mapping[str, str], *folders: Path, skip: frozenset[Path] = frozenset()
) -> list[str]:
    """`path: name` for every file under `folders` that holds one of `secrets` (S1: what
    plait wrote must never hold a token)."""
    found = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path in skip or path.is_symlink() or not path.is_file():
                continue
            with contextlib.suppress(OSError):
                data = path.read_bytes()
                found += [
                    f"{path}: {name}" for name, value in secrets.items() if value.encode() in data
                ]
    return found


def trailer_counts(repo: Path, ref: str, trailer: str) -> dict[str, int]:
    """How many commits on `ref` carry each value of `trailer` (e.g. `Plait-Task`)."""
    counts: dict[str, int] = {}
    out = run_git("log", "--format=%B%x00", ref, cwd=repo)
    prefix = f"{trailer}: "
    for body in out.split("\0"):
        for line in body.splitlines():
            if line.startswith(prefix):
                value = line.removeprefix(prefix).strip()
                counts[value] = counts.get(value, 0) + 1
    return counts


def repeated(counts: Mapping[str, int]) -> list[str]:
    """The keys counted more than once, as `key ×n`."""
    return [f"{k} ×{n}" for k, n in sorted(counts.items()) if n > 1]
