"""Agents never touch main (issue 14, R3): after every agent turn plait looks at main in the
shared repository; an agent that moved it, deleted it or put its own commits on it is
stopped with the reason, and main is put back. plait's own landings and a person's
commits move main too, and are left alone."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

from plait.agents import ScriptBackend
from plait.core import effects as fx
from plait.core import events as ev
from plait.testing.gitrepo import GitRepo, run_git

from .test_executors import _git_home, agent_effect, make_executors

__all__ = ["_git_home"]  # the autouse fixture: git in an isolated home


def _script(tmp_path: Path, *argv: list[str]) -> Path:
    actions: list[dict[str, Any]] = [{"write": "f.txt", "content": "x\n"}, {"commit": "f"}]
    actions += [{"run": a} for a in argv]
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"default": {"start": [{"say": "done", "actions": actions}]}}))
    return script


def _turn(tmp_path: Path, *argv: list[str], landed: bool = False) -> tuple[ev.Event, str, str]:
    """One start turn whose agent runs `argv` after committing; (its result, main before,
    main after). `landed`: main gets a second commit before the turn."""
    backend = ScriptBackend(script=str(_script(tmp_path, *argv)))
    repo = tmp_path / "repo"

    async def scenario() -> tuple[ev.Event, str, str]:
        executors = make_executors(tmp_path, backend, idle_timeout=None, turn_timeout=None)
        if landed:
            run_git("commit", "-q", "--allow-empty", "-m", "landed", cwd=repo)
        effect = await agent_effect(executors, "t")
        before = run_git("rev-parse", "main", cwd=repo).strip()
        done = await executors.run(effect)
        after = subprocess.run(
            ["git", "rev-parse", "-q", "--verify", "refs/heads/main"], cwd=repo,
            capture_output=True, text=True, check=False,
        ).stdout.strip()  # fmt: skip
        return done, before, after

    return asyncio.run(scenario())


def test_an_agent_that_moves_main_to_its_work_is_stopped_and_main_put_back(
    tmp_path: Path,
) -> None:
    done, before, after = _turn(tmp_path, ["git", "update-ref", "refs/heads/main", "HEAD"])
    assert isinstance(done, ev.AgentFinished)
    assert not done.ok
    assert done.failure == "forbidden"
    assert "put 1 commit(s) of its own on main" in done.error, done.error
    assert after == before


def test_an_agent_that_deletes_main_is_stopped_and_main_put_back(tmp_path: Path) -> None:
    done, before, after = _turn(tmp_path, ["git", "update-ref", "-d", "refs/heads/main"])
    assert isinstance(done, ev.AgentFinished)
    assert (done.ok, done.failure) == (False, "forbidden")
    assert "deleted" in done.error
    assert after == before


def test_an_agent_that_rewinds_main_is_stopped_and_main_put_back(tmp_path: Path) -> None:
    rewind = ["git", "update-ref", "refs/heads/main", "refs/heads/main~1"]
    done, before, after = _turn(tmp_path, rewind, landed=True)
    assert isinstance(done, ev.AgentFinished)
    assert (done.ok, done.failure) == (False, "forbidden"), done.error
    assert "moved it from" in done.error
    assert after == before


def test_commits_on_main_that_are_not_the_agents_are_left_alone(tmp_path: Path) -> None:
    """A person (or plait's landing) commits on main while the agent works: not the
    agent's doing, so nothing is put back and the turn stands."""
    repo = tmp_path / "repo"
    # Started from the agent's turn, so during it, but without the agent's git marks.
    person = [
        "sh",
        "-c",
        f"env -u GIT_REFLOG_ACTION git -C {repo} commit -q --allow-empty -m 'a person'",
    ]
    done, before, after = _turn(tmp_path, person)
    assert isinstance(done, ev.AgentFinished)
    assert done.ok, done.error
    assert after != before
    assert run_git("log", "-1", "--format=%s", "main", cwd=repo).strip() == "a person"


def _in_place(tmp_path: Path, cwd: Path, actions: list[dict[str, Any]]) -> tuple[ev.Event, str]:
    """One turn of a task without a worktree of its own, working in `cwd` (a mission's
    folder); (its result, main before)."""
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"default": {"start": [{"say": "done", "actions": actions}]}}))
    repo = tmp_path / "repo"

    async def scenario() -> tuple[ev.Event, str]:
        executors = make_executors(tmp_path, ScriptBackend(script=str(script)))
        before = run_git("rev-parse", "main", cwd=repo).strip()
        cwd.mkdir(exist_ok=True)
        turn = fx.Turn(kind="start", title="m", description="", branch="", base_branch="main",
                       in_place=True)  # fmt: skip
        effect = fx.RunAgent(id="m/2/agent", task="m", agent="script", worktree=str(cwd),
                             base_sha="", session_id="", turn=turn,
                             launch=fx.Launch(name="m", in_place=True))  # fmt: skip
        return await executors.run(effect), before

    return asyncio.run(scenario())


def test_an_in_place_agent_that_commits_on_main_in_the_repository_is_stopped(
    tmp_path: Path,
) -> None:
    """A mission working in the repository's own folder, where main is checked out."""
    repo = tmp_path / "repo"
    done, before = _in_place(tmp_path, repo, [{"write": "f.txt", "content": "x\n"},
                                              {"commit": "on main"}])  # fmt: skip
    assert isinstance(done, ev.AgentFinished)
    assert (done.ok, done.failure) == (False, "forbidden"), done
    assert "put 1 commit(s) of its own on main" in done.error, done.error
    assert run_git("rev-parse", "main", cwd=repo).strip() == before


def test_an_in_place_agent_elsewhere_that_deletes_main_is_stopped(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    delete = ["git", "-C", str(repo), "update-ref", "-d", "refs/heads/main"]
    done, before = _in_place(tmp_path, tmp_path / "notes", [{"run": delete}])
    assert isinstance(done, ev.AgentFinished)
    assert (done.ok, done.failure) == (False, "forbidden"), done
    assert "deleted" in done.error
    assert run_git("rev-parse", "main", cwd=repo).strip() == before


def test_a_reviewer_that_moves_main_to_the_change_is_stopped_and_main_put_back(
    tmp_path: Path,
) -> None:
    """A reviewer that "approves" by moving main to the change it judged."""
    moves = [{"run": ["git", "update-ref", "refs/heads/main", "HEAD"]}]
    script = tmp_path / "script.json"
    turns = {"verdict": [{"say": "VERDICT: APPROVED", "actions": moves}]}
    script.write_text(json.dumps({"default": turns}))
    repo = tmp_path / "repo"

    async def scenario() -> tuple[ev.Event, str]:
        executors = make_executors(tmp_path, ScriptBackend(script=str(script)))
        work = await agent_effect(executors, "t")  # its prepared worktree
        head = GitRepo(repo).commit({"f.txt": "x\n"}, "the change", cwd=work.worktree)
        before = run_git("rev-parse", "main", cwd=repo).strip()
        review = fx.RunReviewer(id="t/3/verdict", task="t", agent="script",
                                worktree=work.worktree, base_sha=work.base_sha,
                                head_sha=head, title="t")  # fmt: skip
        return await executors.run(review), before

    done, before = asyncio.run(scenario())
    assert isinstance(done, ev.Reviewed)
    assert (done.ok, done.failure) == (False, "forbidden"), done
    assert "put 1 commit(s) of its own on main" in done.error, done.error
    assert run_git("rev-parse", "main", cwd=repo).strip() == before


def test_an_agent_that_commits_in_the_users_checkout_is_stopped_and_main_put_back(
    tmp_path: Path,
) -> None:
    """The commit is not in the agent's branch, yet its git marked it in main's reflog."""
    repo = tmp_path / "repo"
    commit = f"cd {repo} && echo y > agent.txt && git add agent.txt && git commit -qm mine"
    done, before, after = _turn(tmp_path, ["sh", "-c", commit])
    assert isinstance(done, ev.AgentFinished)
    assert (done.ok, done.failure) == (False, "forbidden"), done.error
    assert "put 1 commit(s) of its own on main" in done.error, done.error
    assert f"the checkout of main at {repo} still holds the agent's change" in done.error
    assert after == before


PLAN = """# Gameplan: rules

## Patches

### Patch 1 [INFRA]: Bad one
Write one.txt.

### Patch 2 [INFRA]: Good one
Write two.txt.

## Dependency Graph

- Patch 1 [INFRA] -> []
- Patch 2 [INFRA] -> []
"""


def test_through_plait_the_task_stops_with_the_reason_and_the_others_land(
    tmp_path: Path,
) -> None:
    from plait.testing.gitrepo import GitRepo
    from tests.cli.helpers_cli import plait

    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "x\n"}).path
    bad = [
        {"write": "one.txt", "content": "1\n"},
        {"commit": "one"},
        {"run": ["git", "update-ref", "refs/heads/main", "HEAD"]},
    ]
    good = [{"write": "two.txt", "content": "2\n"}, {"commit": "two"}]
    script = {
        "tasks": {
            "1": {"start": [{"say": "done", "actions": bad}]},
            "2": {"start": [{"say": "done", "actions": good}]},
        }
    }
    (tmp_path / "plan.md").write_text(PLAN)
    (tmp_path / "script.json").write_text(json.dumps(script))
    done = plait(
        "run", str(tmp_path / "plan.md"), "--repo", str(repo), "--project", "rules",
        "--script", str(tmp_path / "script.json"), "--json", home=tmp_path, timeout=240,
    )  # fmt: skip
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    status = {t["id"]: t for t in summary["tasks"]}
    assert status["2"]["status"] == "merged", summary
    assert status["1"]["status"] == "failed", summary
    assert "on main" in json.dumps(status["1"]), status["1"]
    on_main = run_git("ls-tree", "--name-only", "main", cwd=repo).split()
    assert "two.txt" in on_main
    assert "one.txt" not in on_main


class _Race:
    """A repository where an agent's worktree races plait's landings on main."""

    def __init__(self, tmp_path: Path) -> None:
        self.repo = GitRepo.init(tmp_path / "repo", files={"README.md": "x\n"})
        self.before = self.repo.rev("main")  # noted before the agent's turn
        self.work = tmp_path / "work"
        self.repo.git("worktree", "add", "-q", "-b", "agent", str(self.work))

    def agent_moves_main(self) -> str:
        one = self.repo.commit({"one.txt": "1\n"}, "one", cwd=self.work)
        self.repo.git("update-ref", "refs/heads/main", one)  # the agent moves main to its work
        return one

    def land(self, files: dict[str, str], title: str) -> str:
        self.repo.git("reset", "-q", "--hard", "main")  # the main checkout follows main
        return self.repo.commit(files, f"{title}\n\nPlait-PR: 2")

    def check(self) -> str:
        from plait.workspaces.mainguard import check_main

        return asyncio.run(check_main(repo=str(self.repo.path), main="main", before=self.before,
                                      worktree=str(self.work)))  # fmt: skip


def test_a_landing_made_on_the_agents_commit_is_kept_and_the_agents_change_reverted(
    tmp_path: Path,
) -> None:
    race = _Race(tmp_path)
    race.agent_moves_main()
    # Meanwhile a landing's compare-and-swap saw that main and merged onto it.
    landed = race.land({"two.txt": "2\n"}, "Two (#2)")
    said = race.check()
    # main was put back at `before`, dropping the landing that was made on top.
    assert "plait reverted them on main" in said, said
    assert "keeping the 1 commit(s) landed on top of them" in said
    repo = race.repo
    tip = repo.rev("main")
    assert repo.git("rev-parse", f"{tip}^").strip() == landed
    on_main = repo.git("ls-tree", "--name-only", "main").split()
    assert sorted(on_main) == ["README.md", "two.txt"]
    assert "Plait-Reverted:" in repo.git("log", "-1", "--format=%B", "main")


def test_an_agents_change_that_later_work_depends_on_is_left_for_a_person(
    tmp_path: Path,
) -> None:
    race = _Race(tmp_path)
    one = race.agent_moves_main()
    tip = race.land({"one.txt": "1 and more\n"}, "Edit one (#2)")
    said = race.check()
    assert f"revert them by hand (git revert {one[:12]})" in said, said
    assert race.repo.rev("main") == tip  # nothing dropped: the later landing edits its file


def test_a_landing_the_agent_overwrote_during_its_turn_is_where_main_goes_back(
    tmp_path: Path,
) -> None:
    race = _Race(tmp_path)
    landed = race.land({"two.txt": "2\n"}, "Two (#2)")  # during the agent's turn
    race.agent_moves_main()  # its branch started at `before`: main loses the landing
    said = race.check()
    # main went back to the tip before the turn, dropping the landing made during it.
    assert f"plait put main back at {landed[:12]}" in said, said
    assert race.repo.rev("main") == landed
