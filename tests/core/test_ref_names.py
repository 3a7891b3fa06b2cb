"""git's ref-name rules, in pure Python, agree with `git check-ref-format` itself.

The core may not run git, so `ref_name_problem` restates the rules; Hypothesis builds names
from the pieces the rules are about and asks the real git about each one.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from plait.core.plan import ref_name_problem, slugify, task_id_problem

PIECES = [
    "a", "B", "7", "é", "日", "-", "_", ".", "/", "@", "{", "}", "lock", ".lock", "..", "//",
    "~", "^", ":", "?", "*", "[", "]", "\\", " ", "\t", "\x01", "\x1f", "\x7f", "+", ";", "!",
]  # fmt: skip
names = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}


def git_accepts(name: str, *, one_level: bool) -> bool:
    flag = ["--allow-onelevel"] if one_level else []
    proc = subprocess.run(
        ["git", "check-ref-format", *flag, name], env=GIT_ENV, capture_output=True, check=False
    )
    return proc.returncode == 0


@settings(max_examples=500, deadline=None)
@given(names, st.booleans())
@example("heads/a.lock", False)
@example("a/b.", False)
@example("@", True)
@example("a/@", False)
@example("x/@{", False)
@example("foo./bar", False)
@example("a", False)
def test_agrees_with_git_check_ref_format(name: str, one_level: bool) -> None:
    assume(not name.startswith("-"))  # git's argv parser takes it for an option
    problem = ref_name_problem(name, one_level=one_level)
    assert (problem is None) == git_accepts(name, one_level=one_level), problem


@settings(max_examples=300, deadline=None)
@given(names)
def test_every_task_id_is_a_branch_part_git_accepts(task_id: str) -> None:
    if task_id_problem(task_id) is None:
        assert git_accepts(f"refs/heads/plait/project/{task_id}", one_level=False)


@pytest.mark.parametrize(
    "good",
    ["1", "2a", "auth-1", "v1.2", "a_b", "x" * 64, "a.lockx", "Auth", "α1", "миграция-базы.1"],
)
def test_ordinary_ids_pass(good: str) -> None:
    assert task_id_problem(good) is None


@pytest.mark.parametrize(
    ("bad", "rule"),
    [("🚀1", "starts with"), ("e\u0301", "normal form C"), ("a\u00a0b", "contains"), ("", "empty")],
)
def test_ids_outside_the_alphabet_fail(bad: str, rule: str) -> None:
    problem = task_id_problem(bad)
    assert problem is not None
    assert rule in problem


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_a_slug_of_any_title_is_a_valid_task_id(title: str) -> None:
    # Task ids are made from titles (`plait add`) and plan names prefix them.
    assert task_id_problem(slugify(title)) is None
    assert task_id_problem(f"{slugify(title)}.1") is None
