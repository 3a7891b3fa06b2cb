"""What a new user's trial of the README found (a fresh clone, every command, bad input
everywhere): each case here failed before its fix."""

from __future__ import annotations

import ast
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plait import exits
from plait.api.views import TASK_STATUSES
from plait.core.task import DISPLAY_STATUSES, display_status
from plait.testing.gitrepo import GitRepo
from tests.api.helpers_live import Live
from tests.cli.helpers_cli import cli_env, plait


def _two_projects_on_one_repo(tmp: Path) -> Live:
    live = Live.make(tmp, {})
    for name in ("one", "two"):
        live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", name)
    return live


def test_ps_with_a_status_no_task_has_names_the_statuses_there_are(tmp_path: Path) -> None:
    live = _two_projects_on_one_repo(tmp_path)
    live.ok("add", "Write the notes", "--body", "notes/a.txt", "-p", "one")
    out = live.plait("ps", "-p", "one", "--status", "merged")
    assert out.returncode == 0, out.stderr
    # It said "no tasks", as if nothing were anywhere.
    assert out.stdout.strip() == "no task is merged; statuses now: queued (1)"
    assert json.loads(live.ok("ps", "-p", "one", "--status", "merged", "--json")) == []


def test_ps_with_a_mistyped_status_is_an_error_naming_the_closest(tmp_path: Path) -> None:
    live = _two_projects_on_one_repo(tmp_path)
    live.ok("add", "Write the notes", "--body", "notes/a.txt", "-p", "one")
    # Both were taken for "no task is in that state" and exited 0.
    out = live.plait("ps", "-p", "one", "--status", "queued,mergd")
    assert out.returncode == 2, out.stdout
    assert "no task status 'mergd'" in out.stderr
    assert "did you mean 'merged'?" in out.stderr
    assert "needs-attention" in out.stderr  # the known ones
    assert "fixing-ci" in out.stderr
    out = live.plait("ps", "-p", "one", "--status", "bogus", "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert "no task status 'bogus'" in out.stderr
    assert "queued" in out.stderr


def test_inside_a_repository_with_two_projects_the_error_names_them(tmp_path: Path) -> None:
    live = _two_projects_on_one_repo(tmp_path)
    other = GitRepo.init(tmp_path / "other", files={"a.txt": "a\n"})
    live.ok("init", "--repo", str(other.path), "--script", str(live.script), "-p", "three")
    out = subprocess.run(
        [sys.executable, "-m", "plait.cli", "ps"],
        cwd=live.repo,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    # It said "more than one project exists: one, three, two" and hinted to run the command
    # inside the repository, where the user already was.
    assert "more than one project works on the repository at" in out.stderr
    assert "one, two" in out.stderr
    assert "three" not in out.stderr
    assert "inside its repository" not in out.stderr


def test_memory_list_of_an_unused_tag_does_not_call_the_memory_empty(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "m")
    live.ok("memory", "add", "Amounts are cents", "--tag", "billing", "-p", "m")
    out = live.ok("memory", "list", "--tag", "nope", "-p", "m")
    assert "the memory is empty" not in out  # it said so, with an entry in it
    assert "no memory entry is tagged 'nope'" in out
    assert "Amounts are cents" in live.ok("memory", "list", "--tag", "billing", "-p", "m")


BLUEPRINT = """\
name = "orders-api"
[vars]
resource = "orders"
[agents.schema]
prompt = "Design the ${resource} table"
[agents.api]
prompt = "Build the ${resource} API"
depends_on = ["schema"]
"""


def test_validate_checks_a_blueprint_as_a_blueprint(tmp_path: Path) -> None:
    good = tmp_path / "team.toml"
    good.write_text(BLUEPRINT)
    out = plait("validate", str(good), home=tmp_path)
    # It read the blueprint as a plait.toml: "unknown key 'name' at the top level", exit 3.
    assert out.returncode == 0, out.stderr
    assert "blueprint 'orders-api' is valid: 2 agents" in out.stdout
    assert "api (after schema)" in out.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(BLUEPRINT.replace('depends_on = ["schema"]', 'depends_on = ["db"]'))
    out = plait("validate", str(bad), home=tmp_path)
    assert out.returncode == 3
    assert "depends on unknown agent 'db'" in out.stderr
    assert "unknown key 'name'" not in out.stderr


def test_problems_name_their_file_not_a_plan_and_a_missing_config_says_check_the_path(
    tmp_path: Path,
) -> None:
    config = tmp_path / "plait.toml"
    config.write_text('[agent]\ndefualt = "claude"\n')
    out = plait("validate", str(config), home=tmp_path)
    assert out.returncode == 3
    assert out.stderr.startswith(f"plait: problems in {config}:\n")  # was "invalid plan:"
    assert "did you mean 'default'" in out.stderr
    out = plait("swarm", str(tmp_path / "nofile.toml"), home=tmp_path)
    assert out.returncode == 3
    assert "Traceback" not in out.stderr
    assert "nofile.toml: cannot read it: No such file or directory — check the path" in out.stderr
    assert "UTF-8" not in out.stderr  # the hint was "save it as UTF-8 text"


def test_the_readme_command_table_lists_every_command() -> None:
    import argparse
    import re

    from plait.cli import build_parser

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `plait ([a-z]+)", readme, flags=re.MULTILINE))
    parser = build_parser()
    commands = {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }
    assert commands - listed == set()  # `plait attach` was missing
    assert listed - commands == set()


def test_a_refused_add_is_one_error_and_a_missing_file_says_why_plainly(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "a")
    out = live.plait("add", "Write it", "--after", "nope", "-p", "a")
    assert out.returncode == 2
    # The no-body warning came first, so the mistake was not the one line it should be.
    assert out.stderr.startswith("plait: project 'a' has no task 'nope'"), out.stderr
    assert "warning" not in out.stderr
    missing = tmp_path / "nope.md"
    for args in (["add", "x", "--file", str(missing)], ["mission", "--file", str(missing)]):
        out = live.plait(*args, "-p", "a")
        assert out.returncode == 2
        assert out.stderr == f"plait: cannot read {missing}: No such file or directory\n" \
            "  hint: check the path\n"  # fmt: skip
    added = live.plait("add", "No body", "-p", "a")
    assert added.returncode == 0
    assert "warning: the task has no body" in added.stderr


def test_up_with_another_http_port_on_a_serving_engine_says_it_kept_its_port(
    tmp_path: Path,
) -> None:
    from plait.testing.temporal import free_port

    live = Live.make(tmp_path, {})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "h")
    assert live.plait("up", "h", "--http", "0").returncode == 0
    try:
        first = live.plait("up", "h", "--http", "0")
        base = first.stdout.strip().rsplit(" ", 1)[-1]
        other = free_port()
        again = live.plait("up", "h", "--http", str(other))
        assert again.returncode == 0, again.stderr
        # It said "its API is also on <the old port>" and nothing of the port asked for.
        assert f"already serves its API on {base}, not port {other}" in again.stderr
        assert "plait down h" in again.stderr
    finally:
        live.plait("down", "h")


def test_a_project_whose_repository_is_gone_can_still_be_removed(tmp_path: Path) -> None:
    import shutil

    live = Live.make(tmp_path, {})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "gone")
    shutil.rmtree(live.repo)
    out = live.plait("rm", "gone", "--yes")
    # It refused: "directory …/repo does not exist" (exit 4), and the project stayed.
    assert out.returncode == 0, out.stderr
    assert "is gone" in out.stdout
    assert json.loads(live.ok("projects", "--json")) == []


def test_an_engine_does_not_start_without_its_repository(tmp_path: Path) -> None:
    import shutil

    live = Live.make(tmp_path, {})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "gone")
    live.ok("add", "Write it", "--body", "notes/a.txt", "-p", "gone")
    shutil.rmtree(live.repo)
    for command in ("up", "resume"):
        out = live.plait(command, "gone")
        # `up` started an engine that failed the task's workspace every 2 s, for ever.
        assert out.returncode == 4, (command, out.stdout, out.stderr)
        assert f"the repository of project gone, {live.repo}, is gone" in out.stderr
        assert "plait rm gone --yes" in out.stderr
    assert "running" not in live.ok("projects")


@pytest.mark.parametrize("command", ["status", "up", "down", "resume", "tui", "web", "rm"])
def test_project_commands_take_dash_p_like_every_other(tmp_path: Path, command: str) -> None:
    out = plait(command, "-p", "nope", home=tmp_path)
    # "unrecognized arguments: -p", though the README says every command takes it.
    assert "unrecognized arguments" not in out.stderr
    assert "there is no plait project yet" in out.stderr or "no project named" in out.stderr


def test_rm_never_picks_the_only_project_by_itself(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "only")
    out = live.plait("rm", "--yes")
    assert out.returncode == 2
    assert "say which project to remove" in out.stderr
    out = live.plait("status", "only", "-p", "other")
    assert out.returncode == 2
    assert "two projects named: only and -p other" in out.stderr
    assert live.plait("rm", "-p", "only", "--yes").returncode == 0


def _words_returned(node: ast.AST) -> set[str]:
    """The string constants a function can return, leaving out those it compares with."""
    if isinstance(node, ast.Compare | ast.JoinedStr):
        return set()
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    return {w for child in ast.iter_child_nodes(node) for w in _words_returned(child)}


def test_the_readme_names_every_status_a_task_can_show() -> None:
    # `carried` and `pushing` were shown by `ps` but missing from the README's list.
    tree = ast.parse(inspect.getsource(display_status))
    words = set().union(*(_words_returned(n) for n in ast.walk(tree) if isinstance(n, ast.Return)))
    words.discard(display_status.__doc__ or "")
    # The canonical list `ps --status` checks against holds every word display_status returns.
    assert sorted(words - DISPLAY_STATUSES) == []
    assert {"carried", "pushing", "merged", "syncing", "fixing-ci", "over-budget", "running"} <= (
        TASK_STATUSES
    )
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert sorted(w for w in TASK_STATUSES if f"`{w}`" not in readme) == []


def test_swarm_status_of_a_project_with_no_swarm_says_so(tmp_path: Path) -> None:
    live = _two_projects_on_one_repo(tmp_path)
    out = live.plait("swarm", "status", "-p", "one")
    assert out.returncode == 0, out.stderr
    # It printed an empty workers table and a queue of zeros.
    assert out.stdout.startswith("project one has no swarm: start one with `plait swarm")
    assert "worker" not in out.stdout.splitlines()[-1]


def test_every_file_the_readme_names_is_in_the_repository() -> None:
    # The quick start said `plait run plan.md` with no plan in the repository to start from.
    root = Path(__file__).parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    linked = re.findall(r"\]\(((?:docs|bench|tools|src|tests)/[^)#]+)\)", readme)
    assert "docs/examples/plan.md" in linked
    assert [p for p in linked if not (root / p).exists()] == []


def test_the_example_plan_is_a_valid_plan() -> None:
    from plait.plans.load import load_plan

    plan = load_plan(Path(__file__).parents[2] / "docs" / "examples" / "plan.md")
    assert [t.id for t in plan.tasks] == ["1", "2", "3"]


# ---- plait wait under a dependency that stopped for good ------------------------------------
def test_wait_ends_when_a_dependency_stopped_for_good(tmp_path: Path) -> None:
    """Seen in a new-user trial: `plait wait` on a task under a failed one ran into its
    timeout, though nothing would move until a person acted."""
    live = Live.make(
        tmp_path, {"tasks": {"a": {"start": [{"say": "", "actions": [{"crash": 3}]}]}}}
    )
    live.ok("init", "--repo", str(live.repo), "--project", "w", "--agent", "script",
            "--script", str(live.script))  # fmt: skip
    live.ok("up", "w")
    try:
        live.ok("add", "Fail", "--id", "a", "--landing", "none", "-p", "w")
        live.ok("add", "After the failure", "--id", "b", "--after", "a", "-p", "w")
        live.ok("add", "Under that", "--id", "c", "--after", "b", "-p", "w")
        waited = live.plait("wait", "c", "--timeout", "100", "-p", "w", timeout=150)
    finally:
        live.plait("down", "w")
    assert waited.returncode == exits.ATTENTION, (waited.stdout, waited.stderr)
    assert "c: waiting, blocked: a is needs-attention" in waited.stdout
    assert "`plait retry a`" in waited.stdout
