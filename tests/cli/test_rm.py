"""`plait rm`: a project goes (or is archived); the repository stays, its branches too on
request; a running engine or a missing confirmation stops it."""

from __future__ import annotations

from pathlib import Path

from plait.testing.gitrepo import run_git
from tests.api.helpers_live import Live, turn

PLAN = """\
# Gameplan: gone

## Patches

### Patch 1: Add one
Write notes/one.txt.

### Patch 2: Add two
Write notes/two.txt.

## Dependency Graph

- Patch 1 -> []
- Patch 2 -> [1]
"""
FAIL = {"say": "no", "actions": [{"fail": "failed", "message": "stuck"}]}


def _project(tmp_path: Path) -> Live:
    # Task 1 lands; task 2 keeps failing, so its branch and worktree are still there.
    script = {"tasks": {"1": {"start": [turn("one", "notes/one.txt", "1\n", "one")]},
                        "2": {"start": [FAIL]}}}  # fmt: skip
    live = Live.make(tmp_path, script)
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    out = live.plait("run", str(plan), "--repo", str(live.repo), "--script", str(live.script))
    assert out.returncode == 10, out.stderr
    return live


def _branches(live: Live) -> list[str]:
    return run_git("for-each-ref", "--format=%(refname:short)", "refs/heads", cwd=live.repo).split()


def test_rm_deletes_the_project_its_worktrees_and_branches(tmp_path: Path) -> None:
    live = _project(tmp_path)
    assert "plait/gone/2" in _branches(live)
    refused = live.plait("rm", "gone")  # no terminal to ask on
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert live.ok("rm", "gone", "--yes").strip() == "project gone deleted"
    assert not (live.home() / "gone").exists()
    assert _branches(live) == ["main"]
    assert "plait" not in run_git("worktree", "list", cwd=live.repo)
    assert "notes/one.txt" in live.main_files()  # the repository's history stays


def test_rm_can_archive_and_keep_the_branches(tmp_path: Path) -> None:
    live = _project(tmp_path)
    said = live.ok("rm", "gone", "--yes", "--archive", "--keep-branches")
    assert "archived in" in said
    archived = list((tmp_path / "plait-home" / "archive").iterdir())
    assert len(archived) == 1
    assert (archived[0] / "plait.db").exists()
    assert "plait/gone/2" in _branches(live)


def test_rm_refuses_while_the_engine_runs(tmp_path: Path) -> None:
    live = _project(tmp_path)
    assert live.plait("up", "gone").returncode == 0
    try:
        out = live.plait("rm", "gone", "--yes")
        assert out.returncode == 5
        assert "plait down gone" in out.stderr
        assert (live.home() / "gone").exists()
    finally:
        live.plait("down", "gone")
