"""`plait swarm` with real agent CLIs against the model-API double on a 10-ticket tasks/
folder (issue 10, "done when"): claude as the three workers and the planner, codex as the
reviewer — a different backend.
The double routes each conversation by a marker its prompt holds: a ticket's summary for
its worker, "Review a change: <summary>" (longer, so it wins) for its reviewer, the goal
for the planner. One change is rejected with a numbered issue and fixed in the worker's
resumed session; one task has nothing to do; the planner proposes one more ticket.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from plait.core.model import Usage
from plait.testing.gitrepo import GitRepo, run_git
from plait.testing.model_api import ModelAPIDouble, shell_turn
from plait.testing.model_api_clis import FAKE_KEY_VAR, cli_options
from plait.testing.model_api_script import Turn

pytestmark = pytest.mark.slow

TICKETS = 10
PLANNED = TICKETS + 1
GOAL = "GOAL-7f3: one small file per ticket"
USAGE = Usage(input_tokens=100, output_tokens=20)


def _write(i: int, text: str = "") -> Turn:
    cmd = f"printf '{i}\\n' > file{i}.txt && git add file{i}.txt && git commit -qm 'file {i}'"
    return shell_turn(cmd, text=text or f"Wrote file{i}.txt.", usage=USAGE)


def _double() -> ModelAPIDouble:
    api = ModelAPIDouble()
    for i in range(1, TICKETS + 1):
        summary = f"Write file {i}"
        if i == 2:
            api.add_route(summary, Turn(text="Checked.\nNOTHING TO DO: file 2 is not wanted"))
            continue
        api.add_route(summary, _write(i))
        verdicts = [Turn(text="The file is there.\n\nVERDICT: APPROVED")]
        if i == 3:
            fix = "printf 'three\\n' >> file3.txt && git commit -qam 'spell it'"
            api.add_route(summary, shell_turn(fix, text="Spelled it out."))
            verdicts.insert(
                0, Turn(text="VERDICT: NEEDS_CHANGES\n\n1. file3.txt: spell the number")
            )
        api.add_route(f"Review a change: {summary}", *verdicts)
    summary = f"Write file {PLANNED}"
    proposal = [{"id": f"t{PLANNED}", "summary": summary, "acceptance": ["it is there"]}]
    api.add_route(GOAL, Turn(text=f"One more:\n```plait-tasks\n{json.dumps(proposal)}\n```"))
    api.add_route(GOAL, Turn(text="NOTHING TO DO: every file is planned"))
    api.add_route(summary, _write(PLANNED))
    api.add_route(f"Review a change: {summary}", Turn(text="VERDICT: APPROVED"))
    return api


def _toml_options(options: Mapping[str, object]) -> str:
    return "\n".join(f"{k} = {json.dumps(v)}" for k, v in options.items())


def test_claude_workers_and_a_codex_reviewer_empty_the_queue(
    tmp_path: Path, clis_bin: Path
) -> None:
    home = tmp_path / "home"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
    base.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), LANG="C.UTF-8")
    ticket = "---\nsummary: Write file {0}\nacceptance: [file{0}.txt holds {0}]\n---\n"
    files = {f"tasks/t{i}.md": ticket.format(i) for i in range(1, TICKETS + 1)}
    repo = Path(GitRepo.init(tmp_path / "repo", files={"README.md": "x\n", **files}).path)
    with _double() as api:
        claude, env = cli_options(api, "claude", clis_bin, home=home / "claude", base_env=base)
        codex, codex_env = cli_options(api, "codex", clis_bin, home=home / "codex", base_env=base)
        env[FAKE_KEY_VAR] = codex_env[FAKE_KEY_VAR]  # the key codex's api_key option names
        config = tmp_path / "swarm.toml"
        config.write_text(
            f"[agents.claude]\n{_toml_options(claude)}\n\n[agents.codex]\n{_toml_options(codex)}\n\n"
            f'[swarm]\ntickets = "tasks"\nmax_pending = 2\ngoal = "{GOAL}"\n\n'
            '[[swarm.workers]]\nname = "claude"\nagent = "claude"\ncount = 3\n\n'
            '[[swarm.planners]]\nname = "planner"\nagent = "claude"\n\n'
            '[review]\nreviewers = [{agent = "codex"}]\n'
        )
        env.update(PLAIT_HOME=str(tmp_path / "plait-home"))
        argv = [sys.executable, "-m", "plait.cli", "swarm", str(config), "--repo", str(repo)]
        argv += ["--agent", "claude", "--project", "real", "--json"]
        done = subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
        assert api.exhausted == 0, "an agent asked for more turns than scripted"
    output = done.stdout[-4000:] + done.stderr[-4000:]
    assert done.returncode == 0, output
    status = json.loads(done.stdout.strip().splitlines()[-1])
    assert status["queue"]["merged"] == TICKETS  # the tickets but t2, and the planned one
    assert status["queue"]["stuck"] == 0
    landed = [
        line.removeprefix("Plait-Task: ")
        for line in run_git("log", "--format=%B", "main", cwd=repo).splitlines()
        if line.startswith("Plait-Task: ")
    ]
    want = [f"t{i}" for i in range(1, PLANNED + 1) if i != 2]
    assert sorted(landed) == sorted(want)  # each once
    assert run_git("show", "main:file3.txt", cwd=repo) == "3\nthree\n"
    reviews = [e for e in status["log"] if e["kind"] == "review"]
    assert {e["agent"] for e in reviews} == {"codex"}
    assert [e["outcome"] for e in reviews if e["task"] == "t3"] == ["needs_changes", "approved"]
    workers = {e["agent"] for e in status["log"] if e["kind"] == "cycle"}
    assert workers == {"claude"}
    [t2] = [e for e in status["log"] if e["task"] == "t2" and e["kind"] == "cycle"]
    assert (t2["outcome"], t2["reason"]) == ("skipped", "file 2 is not wanted")
