"""Agents that break plait's rules, through the real `plait run` with the real agent CLIs
(issue 14, R3): each misbehaviour is detected and contained.

How this works: as in `test_real_agents_faults`, a one-task plan runs through `plait run
… --json` with the real CLI aimed at a `ModelAPIDouble`; the double's script for the task
makes the model ask for shell commands, so the CLI itself runs them in the task's worktree:

- it moves main in the shared repository to its work, or commits on main in the user's
  checkout: the task stops (`forbidden`), main is put back;
- it deletes its worktree: the turn fails, the next turn gets a fresh worktree and lands;
- it prints 20 MB: the turn goes on and the task lands;
- it runs `git push` (its branch, main): the push goes nowhere and the task lands;
- it gets around that and pushes its work to main, or its branch, on the forge (the
  GitHub double, `--forge github`): the task stops (`forbidden`) with what it pushed.

The CLIs: claude, codex and pi (each case costs a plait run per CLI; see `RULE_CLIS` for
the others).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait.core.model import Usage
from plait.testing.github_double import GitHubDouble
from plait.testing.model_api import ModelAPIDouble, shell_turn

from .test_real_agents_e2e import git, make_repo
from .test_real_agents_faults import (
    COMMANDS,
    LANDED,
    TITLE,
    FaultRun,
    check_merged,
    run_plan,
    setup_cli,
)

# opencode passes every case too but spends 20-30 s per run here; gemini does not carry out
# the commit in the user's checkout nor the worktree's removal, and its forge-push run did
# not end within the runner's 150 s (not looked into further).
RULE_CLIS = ("claude", "codex", "pi")
USAGE = Usage(input_tokens=100, output_tokens=20)
INITIAL = LANDED - {"alpha.py", "tests/test_alpha.py"}
# What an agent runs to get around the git configuration that makes its pushes go nowhere.
BYPASS = "env -u GIT_CONFIG_COUNT git"
OWNER, NAME = "acme", "rules"


def _double(*turns: tuple[str, ...]) -> ModelAPIDouble:
    """The task's turns, each a list of shell commands (then a short answer)."""
    api = ModelAPIDouble()
    api.add_route(TITLE, *(shell_turn(*cmds, text="Done.", usage=USAGE) for cmds in turns))
    return api


def _stopped(run: FaultRun, *said: str) -> None:
    print(run.story())
    assert run.row["status"] == "failed", run.explain()
    row = json.dumps(run.row)
    messages = "\n".join(str(e["message"]) for e in run.lines)
    for text in said:
        assert text in row or text in messages, run.explain()


def _ls(repo: Path, ref: str) -> set[str]:
    done = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", ref], cwd=repo, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    return set(done.stdout.split())


# ---- the shared repository ----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("cli", RULE_CLIS)
def test_an_agent_that_moves_main_is_stopped_and_main_put_back(
    cli: str, clis_bin: Path, tmp_path: Path
) -> None:
    with _double((*COMMANDS, "git update-ref refs/heads/main HEAD")) as api:
        options, env = setup_cli(api, cli, clis_bin, tmp_path)
        run = run_plan(tmp_path, cli, options, env, [])
        _stopped(run, "of its own on main", "plait put main back")
        assert run.tree == INITIAL, run.tree  # main holds nothing of the agent's


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("cli", RULE_CLIS)
def test_an_agent_that_commits_in_the_main_checkout_is_stopped_and_main_put_back(
    cli: str, clis_bin: Path, tmp_path: Path
) -> None:
    checkout = 'cd "$(git rev-parse --path-format=absolute --git-common-dir)/.."'
    commit = f"{checkout} && echo x > agent.txt && git add agent.txt && git commit -qm mine"
    with _double((*COMMANDS, commit)) as api:
        options, env = setup_cli(api, cli, clis_bin, tmp_path)
        run = run_plan(tmp_path, cli, options, env, [])
        _stopped(run, "on main", "plait put main back")
        assert run.tree == INITIAL, run.tree


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("cli", RULE_CLIS)
def test_an_agent_that_deletes_its_worktree_fails_the_turn_and_the_task_lands(
    cli: str, clis_bin: Path, tmp_path: Path
) -> None:
    # Not `rm -rf`: codex refuses rm -f style commands itself, even with its sandbox off.
    top = '"$(git rev-parse --show-toplevel)"'
    remove = f'python3 -c "import shutil, sys; shutil.rmtree(sys.argv[1])" {top}'
    with _double((remove,), COMMANDS) as api:
        options, env = setup_cli(api, cli, clis_bin, tmp_path)
        run = run_plan(tmp_path, cli, options, env, ["--cooldown", "1"])
        check_merged(run, cli)
        assert len(run.messages("does not exist")) == 1, run.explain()
        assert len(run.turns) == 2, run.explain()


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("cli", RULE_CLIS)
def test_an_agent_that_prints_20_mb_lands(cli: str, clis_bin: Path, tmp_path: Path) -> None:
    chatter = "yes 'just some chatter from the agent' | head -c 20000000"
    with _double((chatter, *COMMANDS)) as api:
        options, env = setup_cli(api, cli, clis_bin, tmp_path)
        run = run_plan(tmp_path, cli, options, env, [])
        check_merged(run, cli)


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("cli", RULE_CLIS)
def test_an_agents_git_push_goes_nowhere_and_the_task_lands(
    cli: str, clis_bin: Path, tmp_path: Path
) -> None:
    pushes = "git push origin HEAD:refs/heads/main; git push origin HEAD:refs/heads/mine; true"
    with _double((*COMMANDS, pushes)) as api:
        options, env = setup_cli(api, cli, clis_bin, tmp_path)
        repo = make_repo(tmp_path / "repo", env)
        bare = tmp_path / "origin.git"
        git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare), env=env)
        git(repo, "remote", "add", "origin", str(bare), env=env)
        before = git(bare, "for-each-ref", env=env)
        run = run_plan(tmp_path, cli, options, env, [], repo=repo)
        check_merged(run, cli)
        assert git(bare, "for-each-ref", env=env) == before
        # The CLI ran the pushes, and git told it why they went nowhere.
        said = [json.dumps(r.body) for r in api.requests if r.body]
        assert any("agents-do-not-push" in text for text in said), said[-1][-2000:]


# ---- the forge ----------------------------------------------------------------------------
@pytest.fixture
def gh(tmp_path: Path) -> Iterator[GitHubDouble]:
    with GitHubDouble(root=tmp_path / "github") as double:
        yield double


def _on_github(
    tmp_path: Path, gh: GitHubDouble, cli: str, clis_bin: Path, api: ModelAPIDouble
) -> FaultRun:
    options, env = setup_cli(api, cli, clis_bin, tmp_path)
    seed = make_repo(tmp_path / "seed", env)
    files = {path: (seed / path).read_text() for path in INITIAL}
    gh.create_repo(OWNER, NAME, files=files)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", gh.repo_remote_url(OWNER, NAME), str(clone), env=env)
    git(clone, "config", "user.name", "Plait Test", env=env)
    git(clone, "config", "user.email", "test@plait.invalid", env=env)
    forge = ["--forge", "github", "--github-url", gh.api_url, "--poll-interval", "0.3"]
    env = {**env, "GITHUB_TOKEN": "double-token"}
    return run_plan(tmp_path, cli, options, env, forge, repo=clone)


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("cli", RULE_CLIS)
def test_an_agent_that_pushes_its_work_to_main_on_the_forge_is_stopped(
    cli: str, clis_bin: Path, tmp_path: Path, gh: GitHubDouble
) -> None:
    with _double((*COMMANDS, f"{BYPASS} push -q origin HEAD:refs/heads/main")) as api:
        run = _on_github(tmp_path, gh, cli, clis_bin, api)
        _stopped(run, "the agent pushed to origin", "of its own on main")
        assert not gh.pulls(OWNER, NAME)  # no PR for work the task was stopped for


@pytest.mark.slow
@pytest.mark.timeout(200)
@pytest.mark.parametrize("cli", RULE_CLIS)
def test_an_agent_that_pushes_its_branch_to_the_forge_is_stopped(
    cli: str, clis_bin: Path, tmp_path: Path, gh: GitHubDouble
) -> None:
    push = f'{BYPASS} push -q origin "HEAD:refs/heads/$(git branch --show-current)"'
    with _double((*COMMANDS, push)) as api:
        run = _on_github(tmp_path, gh, cli, clis_bin, api)
        _stopped(run, "the agent pushed to origin", "pushed its branch")
        assert not gh.pulls(OWNER, NAME)
