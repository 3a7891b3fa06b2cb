"""The early conflict warning against real git: `git merge-tree` finds the branches that
edit the same lines (of each other, of main), and only what moved is merged again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from plait.core.model import Overlap
from plait.testing.gitrepo import GitRepo
from plait.workspaces.conflicts import ConflictFinder, merge_conflicts, ref_heads

BASE = "".join(f"line {i}\n" for i in range(1, 21))


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return GitRepo.init(tmp_path / "repo", files={"app.py": BASE, "README.md": "notes\n"})


def _branch(repo: GitRepo, name: str, files: dict[str, str], *, start: str = "main") -> str:
    repo.git("checkout", "-q", "-b", name, start)
    sha = repo.commit(files, f"work on {name}")
    repo.git("checkout", "-q", "main")
    return sha


def _edit(line: int, text: str) -> str:
    lines = BASE.splitlines(keepends=True)
    lines[line - 1] = f"{text}\n"
    return "".join(lines)


def test_two_branches_editing_the_same_lines_are_warned_of(repo: GitRepo) -> None:
    a = _branch(repo, "a", {"app.py": _edit(5, "a's change")})
    b = _branch(repo, "b", {"app.py": _edit(5, "b's change")})
    c = _branch(repo, "c", {"app.py": _edit(18, "c's change")})  # same file, far away
    d = _branch(repo, "d", {"docs.md": "other\n"})
    main = repo.rev("main")
    found = asyncio.run(ConflictFinder(str(repo.path)).find(main, {"a": a, "b": b, "c": c, "d": d}))
    assert found == {
        "a": (Overlap(task="b", paths=("app.py",)),),
        "b": (Overlap(task="a", paths=("app.py",)),),
        "c": (),
        "d": (),
    }


def test_a_branch_behind_a_main_that_changed_its_lines_is_warned_of(repo: GitRepo) -> None:
    a = _branch(repo, "a", {"app.py": _edit(3, "a's change")})
    repo.commit({"app.py": _edit(3, "main's change")}, "someone landed first")
    found = asyncio.run(ConflictFinder(str(repo.path)).find(repo.rev("main"), {"a": a}))
    assert found == {"a": (Overlap(paths=("app.py",)),)}


def test_only_what_moved_is_merged_again(repo: GitRepo) -> None:
    a = _branch(repo, "a", {"app.py": _edit(5, "a")})
    b = _branch(repo, "b", {"app.py": _edit(5, "b")})
    c = _branch(repo, "c", {"app.py": _edit(6, "c")})
    main = repo.rev("main")
    finder = ConflictFinder(str(repo.path))
    asyncio.run(finder.find(main, {"a": a, "b": b, "c": c}))
    first = finder.merges
    assert first == 3 + 3  # each against main, and the three pairs that share app.py
    asyncio.run(finder.find(main, {"a": a, "b": b, "c": c}))
    assert finder.merges == first  # nothing moved: no merge at all
    repo.git("checkout", "-q", "b")
    b2 = repo.commit({"app.py": _edit(5, "a")}, "b gives in")  # now the same as a
    repo.git("checkout", "-q", "main")
    found = asyncio.run(finder.find(main, {"a": a, "b": b2, "c": c}))
    assert finder.merges == first + 3  # b against main, a and c
    assert found["a"] == (Overlap(task="c", paths=("app.py",)),)
    assert found["b"] == (Overlap(task="c", paths=("app.py",)),)


def test_merge_conflicts_and_ref_heads(repo: GitRepo) -> None:
    a = _branch(repo, "a", {"app.py": _edit(1, "x"), "new.txt": "a\n"})
    b = _branch(repo, "b", {"app.py": _edit(1, "y"), "new.txt": "b\n"})
    assert asyncio.run(merge_conflicts(str(repo.path), a, b)) == ("app.py", "new.txt")
    heads = asyncio.run(ref_heads(str(repo.path), ["refs/heads/a", "refs/heads/gone"]))
    assert heads == {"refs/heads/a": a}
