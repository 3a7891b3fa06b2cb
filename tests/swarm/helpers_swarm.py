"""A repository with a tasks/ folder of tickets, a swarm config and an agent script."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plait.testing.gitrepo import GitRepo, run_git
from tests.cli.helpers_cli import cli_env, plait

CONFIG = """\
[swarm]
tickets = "tasks"
max_pending = 3
goal = "one file per ticket"

[[swarm.workers]]
name = "w"
agent = "script"
count = 3

[[swarm.planners]]
name = "planner"
agent = "script"
count = 1

[review]
reviewers = [{agent = "script"}]
rounds = 2
"""


def ticket(i: int, **front: str) -> str:
    lines = [f"id: t{i}", f"summary: Write file {i}", f"acceptance: [file{i}.txt holds {i}]"]
    lines += [f"{k}: {v}" for k, v in front.items()]
    return "---\n" + "\n".join(lines) + f"\n---\nWrite file{i}.txt with the number {i}.\n"


def write_file(i: int) -> dict[str, Any]:
    return {
        "say": f"wrote file{i}.txt",
        "actions": [{"write": f"file{i}.txt", "content": f"{i}\n"}, {"commit": f"file {i}"}],
    }


@dataclass
class Swarm:
    tmp: Path
    repo: Path
    script: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def make(cls, tmp: Path, tickets: int = 10) -> Swarm:
        files = {f"tasks/t{i}.md": ticket(i) for i in range(1, tickets + 1)}
        repo = GitRepo.init(tmp / "repo", files={"README.md": "notes\n", **files})
        tasks = {f"t{i}": {"start": [write_file(i)]} for i in range(1, tickets + 1)}
        script = {"tasks": tasks, "default": {"verdict": [{"say": "VERDICT: APPROVED"}]}}
        (tmp / "swarm.toml").write_text(CONFIG)
        return cls(tmp=tmp, repo=Path(repo.path), script=script)

    def no_planners(self) -> None:
        config = self.tmp / "swarm.toml"
        head, _, rest = config.read_text().partition("[[swarm.planners]]")
        config.write_text(head + "[review]" + rest.partition("[review]")[2])

    def task(self, task: str, kind: str, *turns: dict[str, Any]) -> None:
        self.script.setdefault("tasks", {}).setdefault(task, {})[kind] = list(turns)

    def argv(self, *extra: str) -> list[str]:
        script = self.tmp / "script.json"
        script.write_text(json.dumps(self.script))
        return [
            "swarm",
            str(self.tmp / "swarm.toml"),
            "--repo",
            str(self.repo),
            "--script",
            str(script),
            "--project",
            "sw",
            *extra,
        ]

    def run(self, *extra: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return plait(*self.argv(*extra), home=self.tmp, timeout=timeout)

    def start(self, *extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "plait.cli", *self.argv(*extra)],
            env=cli_env(self.tmp),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def status(self) -> dict[str, Any]:
        done = plait("swarm", "status", "-p", "sw", "--json", "--last", "500", home=self.tmp)
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))

    def landed(self) -> dict[str, int]:
        """Task → how many commits on main carry its trailer (must be 1 each)."""
        out = run_git("log", "--format=%B%x00", "main", cwd=self.repo)
        counts: dict[str, int] = {}
        for body in out.split("\0"):
            for line in body.splitlines():
                if line.startswith("Plait-Task: "):
                    task = line.removeprefix("Plait-Task: ").strip()
                    counts[task] = counts.get(task, 0) + 1
        return counts

    def main_file(self, name: str) -> str:
        return run_git("show", f"main:{name}", cwd=self.repo)
