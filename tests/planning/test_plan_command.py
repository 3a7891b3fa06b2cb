"""`plait plan "goal"`: a planner agent's gameplan, validated, asked again with the
problems when it does not validate (issue 10) — with the script agent, and with the real
claude CLI against the model-API double."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from plait.testing.gitrepo import GitRepo, run_git
from plait.testing.model_api import ModelAPIDouble, shell_turn
from plait.testing.model_api_clis import cli_options, plait_run_args
from tests.cli.helpers_cli import plait

GOOD = """\
# Gameplan: Greetings

## Problem Statement

The tool cannot greet.

## Solution Summary

A greeting module, then a command using it.

## Patches

### Patch 1 [INFRA]: Greeting module

Add `greet.py` with `hello(name)`.

### Patch 2 [BEHAVIOR]: Greet command

Add `greet` to the CLI, calling `hello`.

## Dependency Graph

- Patch 1 [INFRA] -> []
- Patch 2 [BEHAVIOR] -> [1]
"""
BAD = GOOD.replace("-> [1]", "-> [3]")  # depends on a patch that does not exist


def _repo(tmp: Path) -> Path:
    return Path(GitRepo.init(tmp / "repo", files={"README.md": "a tool\n"}).path)


def _script(tmp: Path, *turns: dict[str, Any]) -> Path:
    path = tmp / "script.json"
    path.write_text(json.dumps({"default": {"plan": list(turns)}}))
    return path


def _writes(text: str) -> dict[str, Any]:
    return {"say": "PLAN.md is written.", "actions": [{"write": "PLAN.md", "content": text}]}


def test_an_invalid_first_plan_goes_back_with_its_problems_and_the_fix_is_written(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    script = _script(tmp_path, _writes(BAD), _writes(GOOD))
    out = tmp_path / "greet.md"
    done = plait("plan", "Let the tool greet", "--repo", str(repo), "--script", str(script),
                 "--out", str(out), "--json", home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["tries"] == 2
    assert [t["id"] for t in result["tasks"]] == ["1", "2"]
    assert out.read_text() == GOOD
    validated = plait("validate", str(out), home=tmp_path)
    assert validated.returncode == 0, validated.stderr
    # The second turn was told what was wrong, in the same session.
    prompts = (repo / ".git" / "plait-script-starts.jsonl").read_text().splitlines()
    second = json.loads(prompts[1])
    assert second["resume"]
    assert second["prompt"].startswith("# The plan does not validate")
    # Nothing of the planner's checkout is left, and the project's files are untouched.
    assert run_git("worktree", "list", cwd=repo).count("\n") == 1
    assert not (repo / "PLAN.md").exists()


def test_a_plan_in_the_answer_counts_and_a_plan_that_never_validates_is_an_error(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    answer = {"say": f"Here it is:\n\n```markdown\n{GOOD}```\n"}
    out = tmp_path / "p.md"
    done = plait("plan", "greet", "--repo", str(repo), "--script", str(_script(tmp_path, answer)),
                 "--out", str(out), home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 tasks (Greetings) after 1 try" in done.stdout
    assert out.read_text() == GOOD
    bad = _script(tmp_path, _writes(BAD))
    done = plait("plan", "greet", "--repo", str(repo), "--script", str(bad),
                 "--out", str(tmp_path / "q.md"), "--tries", "2", home=tmp_path)  # fmt: skip
    assert done.returncode == 3
    assert "still does not validate after 2 tries" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "q.md").exists()
    once = plait("plan", "greet", "--repo", str(repo), "--script", str(bad),
                 "--out", str(tmp_path / "q.md"), "--tries", "1", home=tmp_path)  # fmt: skip
    assert "still does not validate after 1 try — " in once.stderr  # it said "1 tries"
    done = plait("plan", "greet", "--repo", str(repo), "--script", str(_script(tmp_path, answer)),
                 "--out", str(out), home=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert "exists" in done.stderr
    assert "--force" in done.stderr


def test_a_fixed_plan_in_a_later_answer_replaces_the_one_plait_wrote(tmp_path: Path) -> None:
    """A planner that answers with the plan instead of writing PLAN.md: plait wrote the
    first answer to the file, then validated that same file on every later try, so the
    fixed plan of the second answer was never read and `plait plan` failed (exit 3)."""
    repo = _repo(tmp_path)
    bad, good = ({"say": f"Here it is:\n\n```markdown\n{text}```\n"} for text in (BAD, GOOD))
    out = tmp_path / "p.md"
    done = plait("plan", "greet", "--repo", str(repo), "--script",
                 str(_script(tmp_path, bad, good)), "--out", str(out), "--json",
                 home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tries"] == 2
    assert out.read_text() == GOOD
    # A planner that edits the file plait wrote keeps its edit, whatever it answers.
    edit = {"say": f"Fixed it.\n\n```markdown\n{BAD}```\n",
            "actions": [{"write": "PLAN.md", "content": GOOD}]}  # fmt: skip
    again = tmp_path / "q.md"
    done = plait("plan", "greet", "--repo", str(repo), "--script",
                 str(_script(tmp_path, bad, edit)), "--out", str(again), "--json",
                 home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert again.read_text() == GOOD


def test_an_out_path_in_a_missing_folder_is_refused_before_the_planner_runs(
    tmp_path: Path,
) -> None:
    repo = _repo(tmp_path)
    script = _script(tmp_path, _writes(GOOD))
    out = tmp_path / "no-such-folder" / "p.md"
    done = plait("plan", "greet", "--repo", str(repo), "--script", str(script),
                 "--out", str(out), home=tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{out.parent} is not a folder" in done.stderr
    assert not (repo / ".git" / "plait-script-starts.jsonl").exists()  # no turn was spent


def test_the_script_planner_needs_its_script_and_the_flag_wins_over_plait_toml(
    tmp_path: Path,
) -> None:
    """Found trying plait: `plait plan "goal" --agent script` without a script spent three
    turns answering nothing and said "PLAN.md was not written" (exit 3), where `plait init`
    refuses at once; and with plait.toml's `[agents.script] script`, --script lost to it."""
    repo = _repo(tmp_path)
    out = tmp_path / "p.md"
    refused = plait("plan", "greet", "--repo", str(repo), "--agent", "script", "--out", str(out),
                    home=tmp_path)  # fmt: skip
    assert refused.returncode == 2, refused.stderr
    assert "the script agent needs a script" in refused.stderr
    assert not (repo / ".git" / "plait-script-starts.jsonl").exists()  # no turn was spent

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "script.json").write_text(json.dumps({"default": {"plan": [_writes(BAD)]}}))
    (repo / "plait.toml").write_text(f'[agents.script]\nscript = "{elsewhere / "script.json"}"\n')
    run_git("add", "plait.toml", cwd=repo)
    run_git("commit", "-qm", "settings", cwd=repo)
    script = _script(tmp_path, _writes(GOOD))
    done = plait("plan", "greet", "--repo", str(repo), "--script", str(script), "--out", str(out),
                 home=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_text() == GOOD


@pytest.mark.slow
def test_plan_with_the_real_claude_cli_recovers_from_a_first_invalid_plan(
    tmp_path: Path, clis_bin: Path
) -> None:
    repo = _repo(tmp_path)
    home = tmp_path / "home"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
    base.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), LANG="C.UTF-8")
    (tmp_path / "bad.md").write_text(BAD)
    (tmp_path / "good.md").write_text(GOOD)
    with ModelAPIDouble() as api:
        api.add_turns(
            shell_turn("ls", f"cp {tmp_path / 'bad.md'} PLAN.md", text="PLAN.md is written."),
            shell_turn(f"cp {tmp_path / 'good.md'} PLAN.md", text="PLAN.md is written again."),
        )
        options, env = cli_options(api, "claude", clis_bin, home=home / "claude", base_env=base)
        env["PLAIT_HOME"] = str(tmp_path / "plait-home")
        out = tmp_path / "greet.md"
        argv = [sys.executable, "-m", "plait.cli", "plan", "Let the tool greet", "--repo",
                str(repo), "--out", str(out), "--json"]  # fmt: skip
        argv += plait_run_args("claude", options)
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL, check=False)  # fmt: skip
        assert api.exhausted == 0
        bodies = [json.dumps(r.body) for r in api.requests if r.turn == 1]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads(done.stdout)["tries"] == 2
    assert out.read_text() == GOOD
    assert any("does not validate" in b and "unknown task '3'" in b for b in bodies)
