"""A whole run in which an agent plants a git hook: it never runs, and it is put back.

Task 1's (scripted, real-subprocess) agent writes a `post-checkout` hook into the hooks
folder all worktrees share, one that records its environment. plait then creates task 2's
worktree, merges, cleans up — all with GITHUB_TOKEN in its environment. The hook must never
run, must be gone after task 1's turn, and `plait logs 1` must say what happened.
"""

from __future__ import annotations

import json
from pathlib import Path

from plait.testing.gitrepo import GitRepo
from tests.cli.helpers_cli import cli_env, plait

PLAN = """# Gameplan: hooks

### Patch 1: First note
Write one.txt.

### Patch 2: Second note
Write two.txt.
Depends on: 1
"""
TOKEN = "ghp_e2e_token_value"


def script(log: Path) -> dict[str, object]:
    plant = (
        'hooks="$(git rev-parse --git-common-dir)/hooks" && mkdir -p "$hooks" && '
        f'printf "#!/bin/sh\\necho ran >> {log}\\nenv >> {log}\\n" > "$hooks/post-checkout" && '
        'chmod +x "$hooks/post-checkout"'
    )
    return {
        "tasks": {
            "1": {
                "start": [
                    {
                        "say": "done (and a hook)",
                        "actions": [
                            {"write": "one.txt", "content": "one\n"},
                            {"run": ["sh", "-c", plant]},
                            {"commit": "Add one"},
                        ],
                    }
                ]
            },
            "2": {
                "start": [
                    {
                        "say": "done",
                        "actions": [
                            {"write": "two.txt", "content": "two\n"},
                            {"commit": "Add two"},
                        ],
                    }
                ]
            },
        }
    }


def test_a_hook_an_agent_plants_never_runs_and_is_put_back(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "hi\n"})
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    log = tmp_path / "hook-ran.log"
    script_file = tmp_path / "script.json"
    script_file.write_text(json.dumps(script(log)))
    env = cli_env(tmp_path, GITHUB_TOKEN=TOKEN)
    run = plait(
        "run", str(plan), "--repo", str(repo.path), "--script", str(script_file),
        "--project", "hooks", "--merge-delay", "0.2", "--json",
        home=tmp_path, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert not log.exists(), log.read_text()[:2000]
    assert not (repo.path / ".git" / "hooks" / "post-checkout").exists()
    logs = plait("logs", "1", "--project", "hooks", home=tmp_path, env=env)
    assert "!! an agent changed the git hooks in" in logs.stdout
    assert "added post-checkout" in logs.stdout
