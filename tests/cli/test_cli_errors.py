"""Bad plans, bad flags and a missing git: one clear error, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.helpers_cli import cli_env, plait

GOOD = """# Gameplan: tiny

## Patches

### Patch 1 [INFRA]: First
Do one thing.

### Patch 2 [BEHAVIOR]: Second
Do another.

## Dependency Graph

- Patch 1 [INFRA] -> []
- Patch 2 [BEHAVIOR] -> [1]
"""

CYCLE = GOOD.replace("- Patch 1 [INFRA] -> []", "- Patch 1 [INFRA] -> [2]")


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert "Error:" not in text.split("plait:")[0]


def test_validate_good_plan_json(tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text(GOOD)
    out = plait("validate", str(plan), "--json", home=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["tasks"] == [
        {"id": "1", "title": "First", "class": "INFRA", "depends_on": []},
        {"id": "2", "title": "Second", "class": "BEHAVIOR", "depends_on": ["1"]},
    ]


def test_validate_cycle_names_file_line_and_path(tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text(CYCLE)
    out = plait("validate", str(plan), home=tmp_path)
    assert out.returncode == 3
    _no_traceback(out.stderr)
    assert f"{plan}:" in out.stderr
    assert "1 -> 2 -> 1" in out.stderr or "2 -> 1 -> 2" in out.stderr


def test_run_with_bad_plan_refuses_before_anything(tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text(CYCLE)
    out = plait("run", str(plan), "--repo", str(tmp_path), home=tmp_path)
    assert out.returncode == 3
    _no_traceback(out.stderr)
    assert not (tmp_path / "plait-home" / "projects").exists()


def test_missing_plan_file(tmp_path: Path) -> None:
    out = plait("validate", str(tmp_path / "nope.md"), home=tmp_path)
    assert out.returncode == 3
    _no_traceback(out.stderr)
    assert "nope.md" in out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["run"],
        ["run", "plan.md", "--max-concurrency", "zero"],
        ["run", "plan.md", "--max-concurrency", "0"],
        ["run", "plan.md", "--forge", "gitlab"],
        ["frobnicate"],
        ["status", "--bogus"],
    ],
)
def test_bad_flags_are_one_usage_error(tmp_path: Path, args: list[str]) -> None:
    out = plait(*args, home=tmp_path)
    assert out.returncode == 2, out
    _no_traceback(out.stderr)
    assert out.stderr.startswith("plait: ")
    assert "hint:" in out.stderr


def test_not_a_git_repo(tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text(GOOD)
    norepo = tmp_path / "norepo"
    norepo.mkdir()
    out = plait("run", str(plan), "--repo", str(norepo), "--script", str(plan), home=tmp_path)
    assert out.returncode == 4  # a git problem, checked before anything else about the run
    _no_traceback(out.stderr)
    assert "not a git repository" in out.stderr


def test_missing_git(tmp_path: Path) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text(GOOD)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = cli_env(tmp_path, PATH=str(bin_dir))
    out = plait(
        "run", str(plan), "--repo", str(repo), "--script", str(plan), home=tmp_path, env=env
    )
    assert out.returncode == 4, out
    _no_traceback(out.stderr)
    assert "git" in out.stderr
    assert "install" in out.stderr


def test_unknown_project(tmp_path: Path) -> None:
    out = plait("resume", "ghost", home=tmp_path)
    assert out.returncode == 5
    _no_traceback(out.stderr)
    assert "ghost" in out.stderr


def test_status_with_no_projects(tmp_path: Path) -> None:
    out = plait("status", "--json", home=tmp_path)
    assert out.returncode == 0
    assert json.loads(out.stdout) == {"projects": []}


def test_every_flag_and_argument_says_what_it_is() -> None:
    """`plait COMMAND --help` explains everything it takes (the live-project issue 5.14)."""
    import argparse

    from plait.cli import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, words: str) -> None:
        # Down into verbs too (`schedule pause`, `memory search`): they were not looked at.
        for arg in parser._actions:
            if isinstance(arg, argparse._SubParsersAction):
                for name, sub in arg.choices.items():
                    walk(sub, f"{words} {name}".strip())
            elif not isinstance(arg, argparse._HelpAction) and not arg.help:
                missing.append(f"{words} {arg.option_strings or arg.dest}")

    walk(build_parser(), "")
    assert missing == []


@pytest.mark.parametrize(
    ("argv", "prog"),
    [(["ps", "--bogus"], "plait ps"), (["schedule", "list", "-z"], "plait schedule list")],
)
def test_an_unknown_flag_points_at_the_commands_own_help(
    argv: list[str], prog: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from plait.cli import main

    # `plait ps --bogus` said "see `plait --help`", whose page lists no flag of ps.
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "plait: unrecognized arguments: " in err
    assert f"hint: see `{prog} --help`" in err
