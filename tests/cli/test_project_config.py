"""A repository's plait.toml reaches the run: CI command, caps; edits apply at the next
engine start; `plait validate plait.toml` checks it with file:line."""

from __future__ import annotations

import json
from pathlib import Path

from plait.testing.gitrepo import run_git
from tests.api.helpers_live import Live, turn

PLAN = """\
# Gameplan: conf

## Patches

### Patch 1: Add one
Write notes/one.txt.

## Dependency Graph

- Patch 1 -> []
"""

TOML = """\
[ci]
command = "test -f notes/one.txt"

[limits]
max_concurrency = 1

[classes.INFRA]
exclusive = true
"""


def test_plait_toml_settings_reach_the_run_and_edits_apply_on_restart(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {"tasks": {"1": {"start": [turn("one", "notes/one.txt", "1\n",
                                                                 "Add one")]}}})  # fmt: skip
    (live.repo / "plait.toml").write_text(TOML)
    run_git("add", "plait.toml", cwd=live.repo)
    run_git("commit", "-qm", "settings", cwd=live.repo)
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    out = live.plait("run", str(plan), "--repo", str(live.repo), "--script", str(live.script))
    assert out.returncode == 0, out.stderr
    assert "CI: test -f notes/one.txt" in out.stdout
    assert "CI passed on" in out.stdout
    project = live.json("projects")[0]
    assert project["settings"]["max_concurrency"] == 1
    assert project["settings"]["class_caps"] == {"INFRA": 1}

    # An edited plait.toml applies when an engine next starts.
    (live.repo / "plait.toml").write_text(
        TOML.replace("max_concurrency = 1", "max_concurrency = 3")
    )
    assert live.plait("up", "conf").returncode == 0
    try:
        assert live.json("projects")[0]["settings"]["max_concurrency"] == 3
    finally:
        live.plait("down", "conf")
    log = (live.home() / "conf" / "engine.log").read_text()
    assert "settings changed" in log


def test_validate_checks_a_plait_toml(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {})
    good = tmp_path / "plait.toml"
    good.write_text(TOML)
    ok = live.plait("validate", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "class INFRA: at most 1 at once" in ok.stdout
    bad = tmp_path / "bad" / "plait.toml"
    bad.parent.mkdir()
    bad.write_text("[limits]\nmax_concurrency = 0\n[worktre]\nhook = 'x'\n")
    out = live.plait("validate", str(bad))
    assert out.returncode == 3
    assert f"{bad}:2: max_concurrency = 0 is not a whole number of at least 1" in out.stderr
    assert f"{bad}:3: unknown key 'worktre' at the top level" in out.stderr
    assert "did you mean 'worktree'?" in out.stderr
    assert "Traceback" not in out.stderr
    # A broken plait.toml stops a run before anything starts, with the same words.
    (live.repo / "plait.toml").write_text(bad.read_text())
    run = live.plait("init", "--repo", str(live.repo), "--script", str(live.script))
    assert run.returncode == 3
    assert "plait.toml:2:" in run.stderr
    assert json.loads(live.plait("projects", "--json").stdout) == []


HOOKED = '[ci]\ncommand = "true"\n\n[worktree]\nhook = "scripts/setup.sh"\n'


def test_validate_and_a_start_check_that_the_worktree_hook_is_there(tmp_path: Path) -> None:
    """A hook that is not there failed every task's workspace attempts, one by one, while
    `plait validate` said the settings were valid."""
    live = Live.make(tmp_path, {"tasks": {"1": {"start": [turn("one", "notes/one.txt", "1\n",
                                                                 "Add one")]}}})  # fmt: skip
    toml = live.repo / "plait.toml"
    toml.write_text(HOOKED)
    out = live.plait("validate", str(toml))
    assert out.returncode == 3, out.stdout
    assert f"{toml}:5: [worktree] hook scripts/setup.sh does not exist" in out.stderr
    assert "chmod +x scripts/setup.sh" in out.stderr
    script = live.repo / "scripts" / "setup.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nexit 0\n")
    out = live.plait("validate", str(toml))
    assert "[worktree] hook scripts/setup.sh is not executable" in out.stderr
    script.chmod(0o755)
    assert live.plait("validate", str(toml)).returncode == 0

    # `plait run` and `plait up` say it before an engine starts (not three failed tries).
    script.unlink()
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    run = live.plait("run", str(plan), "--repo", str(live.repo), "--script", str(live.script))
    assert run.returncode == 3
    assert "plait.toml:5: [worktree] hook scripts/setup.sh does not exist" in run.stderr
    assert json.loads(live.plait("projects", "--json").stdout) == []
    toml.write_text('[ci]\ncommand = "true"\n')
    init = live.plait("init", "--repo", str(live.repo), "--script", str(live.script),
                      "--project", "h")  # fmt: skip
    assert init.returncode == 0, init.stderr
    toml.write_text(HOOKED)
    up = live.plait("up", "h")
    assert up.returncode == 3
    assert "plait.toml:5: [worktree] hook scripts/setup.sh does not exist" in up.stderr
    assert "Traceback" not in up.stderr
    swarm = tmp_path / "swarm.toml"
    swarm.write_text('[swarm]\n[[swarm.workers]]\nname = "w"\n')
    out = live.plait("swarm", str(swarm), "--repo", str(live.repo), "-p", "h")
    assert out.returncode == 3
    assert "plait.toml:5: [worktree] hook scripts/setup.sh does not exist" in out.stderr


def test_the_script_agent_takes_its_script_from_plait_toml_or_agent_opt(tmp_path: Path) -> None:
    """Found trying plait: the script agent lists `script` among its options (`--agent-opt`,
    plait.toml's `options`), and `plait validate plait.toml` accepted it, but `plait init`
    and `plait run` refused with "the script agent needs a script" unless --script was
    given. A relative path in plait.toml is the file's folder's, as the worktree hook's."""
    script = {"tasks": {"1": {"start": [turn("one", "notes/one.txt", "1\n", "Add one")]}}}
    live = Live.make(tmp_path, script)
    (live.repo / "agent").mkdir()
    (live.repo / "agent" / "script.json").write_text(json.dumps(script))
    (live.repo / "plait.toml").write_text(
        '[agent]\ndefault = "script"\noptions = { script = "agent/script.json" }\n'
    )
    run_git("add", "-A", cwd=live.repo)
    run_git("commit", "-qm", "settings", cwd=live.repo)
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    out = live.plait("run", str(plan), "--repo", str(live.repo), "--headless")
    assert out.returncode == 0, out.stderr
    assert "merged PR #1" in out.stdout
    assert (live.repo / "notes" / "one.txt").read_text() == "1\n"

    made = live.plait("init", "--repo", str(live.repo), "--project", "opt", "--agent", "script",
                      "--agent-opt", f"script={live.script}")  # fmt: skip
    assert made.returncode == 0, made.stderr
