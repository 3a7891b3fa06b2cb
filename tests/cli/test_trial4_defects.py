"""What went wrong when plait was tried as a new user would (trial 4): each case here
failed before its fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from plait.testing.gitrepo import GitRepo
from tests.api.helpers_live import until
from tests.cli.helpers_cli import cli_env, plait

PLAN = """\
# Gameplan: tiny

## Patches

### Patch 1: Add one
Write notes/one.txt.

## Dependency Graph

- Patch 1 -> []
"""

ONE = {"say": "wrote one", "actions": [{"write": "notes/one.txt", "content": "one\n"},
                                       {"commit": "Add one"}]}  # fmt: skip


def _files(tmp: Path) -> tuple[Path, Path]:
    plan, script = tmp / "plan.md", tmp / "script.json"
    plan.write_text(PLAN)
    script.write_text(json.dumps({"default": {"start": [ONE]}}))
    return plan, script


def _projects(tmp: Path) -> list[object]:
    listed = json.loads(plait("projects", "--json", home=tmp).stdout)
    assert isinstance(listed, list)
    return listed


# ---- [project] main of plait.toml ----------------------------------------------------------
def test_validate_refuses_a_main_or_branch_prefix_git_would_refuse(tmp_path: Path) -> None:
    """`main = "no such"` was "valid project settings"; every task then failed its start
    three times on the invalid branch name."""
    toml = tmp_path / "plait.toml"
    toml.write_text('[project]\nmain = "no such"\nbranch_prefix = "a..b"\n')
    out = plait("validate", str(toml), home=tmp_path)
    assert out.returncode == 3, out.stdout
    assert f'{toml}:2: main = "no such" contains a space' in out.stderr
    assert f"{toml}:3: branch_prefix = \"a..b\" contains '..'" in out.stderr
    assert 'e.g. main = "main"' in out.stderr
    assert "Traceback" not in out.stderr
    toml.write_text('[project]\nmain = "release/2.x"\nbranch_prefix = "bots/plait"\n')
    assert plait("validate", str(toml), home=tmp_path).returncode == 0


def test_plait_toml_main_is_the_branch_a_new_project_lands_on(tmp_path: Path) -> None:
    """A repository on `develop` with `[project] main = "develop"` was refused: "the main
    branch 'main' does not exist" — plait.toml's main was read only after that check."""
    repo = Path(GitRepo.init(tmp_path / "repo", branch="develop", files={"a.txt": "a\n"}).path)
    (repo / "plait.toml").write_text('[project]\nmain = "develop"\n')
    plan, script = _files(tmp_path)
    run = plait("run", str(plan), "--repo", str(repo), "--script", str(script), "--json",
                home=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["outcome"] == "merged"


def test_a_plait_toml_main_that_is_no_branch_stops_run_init_and_up_before_any_task(
    tmp_path: Path,
) -> None:
    """It created the project and its tasks, and each task failed its start three times
    ("fix the plan's base branch") before the run ended needing attention (exit 10)."""
    repo = Path(GitRepo.init(tmp_path / "repo", files={"a.txt": "a\n"}).path)
    toml = repo / "plait.toml"
    toml.write_text('[ci]\ncommand = "true"\n\n[project]\nmain = "trunk"\n')
    plan, script = _files(tmp_path)
    run = plait("run", str(plan), "--repo", str(repo), "--script", str(script),
                home=tmp_path)  # fmt: skip
    assert run.returncode == 4, run.stdout + run.stderr
    assert "the main branch 'trunk' does not exist" in run.stderr
    assert f"fix [project] main in {toml}, or pass --main BRANCH" in run.stderr
    assert "Traceback" not in run.stderr
    assert _projects(tmp_path) == []
    # An existing project whose plait.toml now names a missing branch: said before an
    # engine starts, with file:line.
    toml.write_text("")
    assert plait("init", "--repo", str(repo), "--script", str(script), "--project", "q",
                 home=tmp_path).returncode == 0  # fmt: skip
    toml.write_text('[ci]\ncommand = "true"\n\n[project]\nmain = "trunk"\n')
    for argv in (("up", "q"), ("run", str(plan), "--project", "q")):
        out = plait(*argv, home=tmp_path)
        assert out.returncode == 3, out.stdout + out.stderr
        assert f"{toml}:5: [project] main 'trunk' is not a branch of {repo}" in out.stderr
        assert "git branch trunk" in out.stderr
        assert "Traceback" not in out.stderr
    tasks = json.loads(plait("ps", "--all", "--json", "-p", "q", home=tmp_path).stdout)
    assert tasks["tasks"] == [] if isinstance(tasks, dict) else tasks == []


# ---- a misspelt agent ----------------------------------------------------------------------
def test_a_misspelt_agent_is_answered_with_the_closest_one(tmp_path: Path) -> None:
    """`--agent scrpit` listed every backend but did not say which was meant, although a
    misspelt plait.toml key gets its closest one."""
    plan, _ = _files(tmp_path)
    repo = Path(GitRepo.init(tmp_path / "repo", files={"a.txt": "a\n"}).path)
    out = plait("run", str(plan), "--repo", str(repo), "--agent", "scrpit", home=tmp_path)
    assert out.returncode == 6
    assert "unknown agent backend 'scrpit'" in out.stderr
    assert "did you mean 'script'?" in out.stderr
    toml = repo / "plait.toml"
    toml.write_text('[agent]\ndefault = "claud"\n')
    out = plait("validate", str(toml), home=tmp_path)
    assert out.returncode == 3
    assert f"{toml}:2: unknown agent 'claud' — did you mean 'claude'?" in out.stderr
    toml.unlink()
    out = plait("run", str(plan), "--repo", str(repo), "--agent", "zzz", home=tmp_path)
    assert "use one of: claude, codex, gemini, opencode, pi, script" in out.stderr


# ---- followers of a foreground run -----------------------------------------------------------
def test_followers_of_a_foreground_run_end_with_the_store_when_its_engine_exits(
    tmp_path: Path,
) -> None:
    """A second `plait run` of the plan (handed to the engine `plait run` hosts) and a
    `plait logs -f` failed with "the engine of … did not answer" (exit 5) when the hosting
    run settled and exited under them, although every task had landed."""
    repo = Path(GitRepo.init(tmp_path / "repo", files={"a.txt": "a\n"}).path)
    plan, script = _files(tmp_path)
    slow = {"say": "slow", "actions": [{"sleep": 3}, *ONE["actions"]]}
    script.write_text(json.dumps({"default": {"start": [slow]}}))
    env = cli_env(tmp_path)
    host = subprocess.Popen(
        [sys.executable, "-m", "plait.cli", "run", str(plan), "--repo", str(repo), "--script",
         str(script), "--project", "fg", "--headless"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    info = tmp_path / "plait-home" / "projects" / "fg" / "engine.json"
    until(info.exists, what="the hosting run's engine", timeout=60)
    logs = subprocess.Popen(
        [sys.executable, "-m", "plait.cli", "logs", "1", "-f", "-p", "fg"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    follower = plait("run", str(plan), "--project", "fg", "--json", home=tmp_path)
    hosted, _ = host.communicate(timeout=120)
    followed, logs_err = logs.communicate(timeout=60)
    assert host.returncode == 0, hosted
    assert follower.returncode == 0, follower.stdout[-1500:] + follower.stderr
    assert "did not answer" not in follower.stderr
    assert json.loads(follower.stdout.splitlines()[-1])["outcome"] == "merged"
    assert logs.returncode == 0, logs_err
    assert "did not answer" not in logs_err
    assert "-- turn ok" in followed


def test_main_flag_wins_over_plait_toml_even_when_it_says_main(tmp_path: Path) -> None:
    """`--main main` with `[project] main = "trunk"` worked on trunk (a flag equal to its
    default counted as not given): run refused, trunk is no branch; a later --main main on
    an existing project did not win either."""
    repo = Path(GitRepo.init(tmp_path / "repo", files={"a.txt": "a\n"}).path)
    (repo / "plait.toml").write_text('[project]\nmain = "trunk"\n')
    plan, script = _files(tmp_path)
    run = plait("run", str(plan), "--repo", str(repo), "--script", str(script), "--main",
                "main", "--json", home=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout.splitlines()[-1])["outcome"] == "merged"
    # An existing project made without --main: the flag given later wins from then on.
    (repo / "plait.toml").write_text("")
    assert plait("init", "--repo", str(repo), "--script", str(script), "--project", "q",
                 home=tmp_path).returncode == 0  # fmt: skip
    (repo / "plait.toml").write_text('[project]\nmain = "trunk"\n')
    out = plait("up", "q", home=tmp_path)
    assert out.returncode == 3, out.stdout + out.stderr  # plait.toml's trunk: no branch
    plan.write_text(PLAN.replace("one", "two"))
    script.write_text(json.dumps({"default": {"start": [json.loads(json.dumps(ONE).replace(
        "one", "two"))]}}))  # fmt: skip
    out = plait("run", str(plan), "--project", "q", "--main", "main", "--json", home=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout.splitlines()[-1])["outcome"] == "merged"


def test_swarm_takes_headless_as_run_does(tmp_path: Path) -> None:
    """`plait swarm CONFIG --headless` was refused as an unrecognized argument, though
    `plait run` takes it and swarm prints the same lines."""
    out = plait("swarm", str(tmp_path / "none.toml"), "--headless", home=tmp_path)
    assert "unrecognized arguments" not in out.stderr
    assert "none.toml" in out.stderr  # on to the config file, which is not there
    assert out.returncode == 3, out.stderr
    helped = plait("swarm", "--help", home=tmp_path)
    assert "--headless" in helped.stdout
