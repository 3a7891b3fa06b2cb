"""Agents never push (issue 14, R3): the branch is pushed by plait alone.

An agent's git pushes nowhere (`plait.workspaces.pushguard.no_push_env`); an agent that
gets around that and pushes its branch, main or a tag to the forge is caught after its
turn by comparing the forge's refs with those before it, and the task stops as
`forbidden`. The forge here is a real bare repository, the shared repository's `origin`
(as on the GitHub forge, whose double serves one); the agent is a shell program speaking
claude's stream (`test_agent_misbehaviour.Shell`); the real CLIs do the same in
tests/engine/test_real_agents_rules.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from plait.core import events as ev
from plait.engine.executors import Executors
from plait.forges.local import LocalForge
from plait.testing.gitrepo import GitRepo, run_git
from plait.workspaces.worktrees import GitWorkspaces

from .test_agent_misbehaviour import INIT, RESULT, WORK, Shell, _say
from .test_executors import _git_home, agent_effect

__all__ = ["_git_home"]  # the autouse fixture: git in an isolated home

# What an agent does to get around plait's git configuration.
BYPASS = "env -u GIT_CONFIG_COUNT git"


class Forge:
    """A shared repository whose `origin` is a bare repository standing for the forge."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.repo = GitRepo.init(tmp_path / "repo", files={"README.md": "x\n"})
        self.bare = tmp_path / "forge.git"
        run_git("clone", "-q", "--bare", str(self.repo.path), str(self.bare), cwd=tmp_path)
        self.repo.git("remote", "add", "origin", str(self.bare))
        self.repo.git("fetch", "-q", "origin")

    def refs(self) -> dict[str, str]:
        out = run_git("for-each-ref", "--format=%(refname) %(objectname)", cwd=self.bare)
        return dict(line.split() for line in out.splitlines())

    def turn(self, program: str) -> tuple[ev.AgentFinished, str]:
        """One start turn of task `t` running `program` after its commit; (its result,
        what `program` printed)."""
        script = self.tmp / "script.json"
        script.write_text("{}")
        out = self.tmp / "agent.out"
        full = f"{_say(INIT)}; {WORK}; ( {program} ) > {out} 2>&1; {_say(RESULT)}"

        async def scenario() -> ev.Event:
            executors = Executors(
                project="p",
                forge=LocalForge(str(self.tmp / "forge.db"), str(self.repo.path)),
                workspaces=GitWorkspaces(
                    str(self.repo.path), str(self.tmp / "wt"), "main", remote="origin"
                ),
                backend_for=lambda _: Shell(full, script),
                transcript=lambda *_: None,
                idle_timeout=None,
                turn_timeout=None,
            )
            effect = await agent_effect(executors, "t")
            return await executors.run(effect)

        done = asyncio.run(scenario())
        assert isinstance(done, ev.AgentFinished), done
        return done, out.read_text() if out.exists() else ""


def _forbidden(done: ev.AgentFinished, *said: str) -> None:
    assert (done.ok, done.failure) == (False, "forbidden"), (done.ok, done.failure, done.error)
    for text in said:
        assert text in done.error, done.error
    assert "pushed by plait alone" in done.error, done.error


def test_an_agents_git_push_goes_nowhere(tmp_path: Path) -> None:
    forge = Forge(tmp_path)
    before = forge.refs()
    done, out = forge.turn("git push origin HEAD:refs/heads/b-t; git push origin HEAD:main")
    assert done.ok, done.error
    assert "agents-do-not-push" in out, out
    assert forge.refs() == before


def test_an_agent_that_pushes_its_branch_is_stopped(tmp_path: Path) -> None:
    forge = Forge(tmp_path)
    done, _ = forge.turn(f"{BYPASS} push -q origin HEAD:refs/heads/b-t")
    _forbidden(done, "pushed its branch b-t")


def test_an_agent_that_pushes_its_work_to_main_on_the_forge_is_stopped(tmp_path: Path) -> None:
    forge = Forge(tmp_path)
    done, _ = forge.turn(f"{BYPASS} push -q origin HEAD:refs/heads/main")
    _forbidden(done, "put 1 commit(s) of its own on main")


def test_an_agent_that_forces_main_on_the_forge_is_stopped(tmp_path: Path) -> None:
    forge = Forge(tmp_path)
    forge.repo.commit({"two.txt": "2\n"}, "two")
    forge.repo.git("push", "-q", "origin", "main")
    done, _ = forge.turn(f"{BYPASS} push -q -f origin HEAD~2:refs/heads/main")
    _forbidden(done, "forced main from")


def test_an_agent_that_pushes_a_tag_is_stopped(tmp_path: Path) -> None:
    forge = Forge(tmp_path)
    done, _ = forge.turn(f"git tag -a v9 -m v9 && {BYPASS} push -q origin v9")
    _forbidden(done, "pushed refs/tags/v9")


def test_others_moving_the_forge_during_a_turn_is_not_the_agents_doing(
    tmp_path: Path,
) -> None:
    """A landing on the forge's main, another branch and a tag made by others while the
    agent works: the turn stands."""
    forge = Forge(tmp_path)
    other = tmp_path / "other"
    run_git("clone", "-q", str(forge.bare), str(other), cwd=tmp_path)
    run_git("config", "user.email", "person@example.com", cwd=other)
    run_git("config", "user.name", "A person", cwd=other)
    # Run from the agent's turn (so during it), as someone else with their own git.
    push = f"{BYPASS} -C {other} push -q origin"
    land = (
        f"git -C {other} commit -q --allow-empty -m landed && {push} HEAD:main && "
        f"{push} HEAD:refs/heads/someone && git -C {other} tag v1 && {push} v1"
    )
    done, out = forge.turn(land)
    assert done.ok, (done.error, out)
    assert "refs/tags/v1" in forge.refs(), out


def test_a_branch_pushed_as_the_shared_repository_has_it_is_not_the_agents_doing(
    tmp_path: Path,
) -> None:
    """plait pushes a parent task's branch while a task stacked on it works: the stacked
    agent's branch holds that commit, but the forge's branch is the shared repository's."""
    forge = Forge(tmp_path)
    done, out = forge.turn(f"git branch parent HEAD && {BYPASS} push -q origin parent")
    assert done.ok, (done.error, out)
    assert "refs/heads/parent" in forge.refs(), out
