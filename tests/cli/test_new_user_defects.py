"""What went wrong when plait was tried as a new user would (the live-project issue, part
5): each case here failed before its fix."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from plait.testing.gitrepo import GitRepo, run_git
from tests.api.helpers_live import Live, turn, until
from tests.cli.helpers_cli import cli_env, plait

PLAN = """\
# Gameplan: tiny

## Patches

### Patch 1: Add one
Write notes/one.txt.

## Dependency Graph

- Patch 1 -> []
"""

ONE = turn("wrote one", "notes/one.txt", "one\n", "Add one")


def _plan(tmp: Path) -> Path:
    path = tmp / "plan.md"
    path.write_text(PLAN)
    return path


# ---- 5.1: send + resume after a run stopped needing attention --------------------------
def test_send_then_resume_delivers_the_message_and_retries(tmp_path: Path) -> None:
    fail = {"say": "broken", "actions": [{"fail": "failed", "message": "I am stuck"}]}
    script = {"tasks": {"1": {"start": [fail, fail, fail, ONE]}}}
    live = Live.make(tmp_path, script)
    plan = _plan(tmp_path)
    first = live.plait("run", str(plan), "--repo", str(live.repo), "--script", str(live.script),
                       "--project", "tiny", "--json")  # fmt: skip
    assert first.returncode == 10, first.stderr
    said = live.json("send", "1", "The file is notes/one.txt; try again", "-p", "tiny")
    assert said["queued"] is True
    assert "plait resume tiny" in said["message"]
    resumed = live.plait("resume", "tiny", "--json")
    # Before the fix, resume found the run settled and exited at once, the inbox unread.
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr
    assert json.loads(resumed.stdout.splitlines()[-1])["outcome"] == "merged"
    assert "notes/one.txt" in live.main_files()
    # The retried start turn carried the message to the agent.
    assert "## A message from a person\n\nThe file is notes/one.txt" in live.ok("logs", "1")


# ---- 5.3: the repository is checked before any agent starts -----------------------------
def _run_in(tmp: Path, repo: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    script = tmp / "script.json"
    script.write_text(json.dumps({"tasks": {"1": {"start": [ONE]}}}))
    return plait("run", str(_plan(tmp)), "--repo", str(repo), "--script", str(script), *extra,
                 home=tmp)  # fmt: skip


def test_a_missing_folder_is_a_git_problem(tmp_path: Path) -> None:
    out = _run_in(tmp_path, tmp_path / "nowhere")
    assert out.returncode == 4
    assert "nowhere does not exist" in out.stderr


def test_a_repository_without_commits_is_refused(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    run_git("init", "-q", "-b", "main", cwd=repo)
    out = _run_in(tmp_path, repo)
    assert out.returncode == 4
    assert "has no commits yet" in out.stderr
    assert "git commit" in out.stderr
    assert not (tmp_path / "plait-home" / "projects" / "tiny").exists()


def test_a_missing_main_branch_is_refused_with_the_branches_there(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", branch="trunk", files={"a.txt": "a\n"})
    out = _run_in(tmp_path, Path(repo.path))
    assert out.returncode == 4
    assert "'main' does not exist" in out.stderr
    assert "trunk" in out.stderr
    assert "--main BRANCH" in out.stderr
    assert _run_in(tmp_path, Path(repo.path), "--main", "trunk").returncode == 0


def test_a_dirty_checked_out_main_is_a_warning_and_merges_wait(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"a.txt": "a\n"})
    (Path(repo.path) / "a.txt").write_text("edited, not committed\n")
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"tasks": {"1": {"start": [ONE]}}}))
    run = subprocess.Popen(
        [sys.executable, "-m", "plait.cli", "run", str(_plan(tmp_path)), "--repo", str(repo.path),
         "--script", str(script), "--json"],
        env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert run.stderr is not None
        warning = run.stderr.readline()
        assert "warning: main is checked out" in warning
        assert "merges into main wait until that checkout is clean" in warning
    finally:
        run.kill()
        run.communicate(timeout=30)
    assert (Path(repo.path) / "a.txt").read_text() == "edited, not committed\n"


# ---- 5.4: time flags ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "flag", ["--turn-timeout", "--idle-timeout", "--merge-delay", "--poll-interval", "--cooldown"]
)
@pytest.mark.parametrize("value", ["0", "-5", "nan", "soon"])
def test_time_flags_refuse_zero_and_negative(tmp_path: Path, flag: str, value: str) -> None:
    if flag == "--merge-delay" and value == "0":
        value = "-0.1"  # no delay is a fine merge delay
    out = plait("run", "plan.md", flag, value, home=tmp_path)
    assert out.returncode == 2
    assert flag in out.stderr
    assert "Traceback" not in out.stderr


# ---- 5.5: no --ci means no CI, said so --------------------------------------------------
def test_no_ci_says_none_configured_never_ci_passed(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {"tasks": {"1": {"start": [ONE]}}})
    out = live.plait("run", str(_plan(tmp_path)), "--repo", str(live.repo), "--script",
                     str(live.script))  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "CI: none configured" in out.stdout
    assert "CI passed" not in out.stdout
    assert "no CI configured" in out.stdout
    detail = live.json("ps", "--all")[0]
    assert detail["status"] == "merged"


# ---- 5.6: the default agent ---------------------------------------------------------------
def test_no_agent_and_no_cli_logged_in_says_how_to_choose(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"a.txt": "a\n"})
    env = cli_env(tmp_path, PATH="/usr/bin:/bin", PLAIT_AGENT_CLIS_DIR=str(tmp_path / "none"))
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        env.pop(key, None)
    out = plait("run", str(_plan(tmp_path)), "--repo", str(repo.path), home=tmp_path, env=env)
    assert out.returncode == 6
    for name in ("claude", "codex", "opencode", "pi", "gemini"):
        assert name in out.stderr
    assert "--agent script" in out.stderr


def test_no_agent_picks_the_first_logged_in_cli(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"a.txt": "a\n"})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "codex"
    fake.write_text("#!/bin/sh\necho codex 0.0.0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    env = cli_env(tmp_path, PATH=f"{bin_dir}:/usr/bin:/bin", OPENAI_API_KEY="sk-test",
                  PLAIT_AGENT_CLIS_DIR=str(tmp_path / "none"))  # fmt: skip
    env.pop("ANTHROPIC_API_KEY", None)
    made = plait("init", "--repo", str(repo.path), "--project", "pick", home=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    projects = json.loads(plait("projects", "--json", home=tmp_path, env=env).stdout)
    assert projects[0]["agent"] == "codex"


# ---- 5.7: send and review to a landed task ------------------------------------------------
def test_review_of_a_merged_task_is_refused(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {"tasks": {"1": {"start": [ONE]}}})
    live.ok("run", str(_plan(tmp_path)), "--repo", str(live.repo), "--script", str(live.script))
    for args in (("review", "1", "rename it"), ("send", "1", "one more thing")):
        out = live.plait(*args)
        assert out.returncode == 2, args
        assert "task 1 is merged" in out.stderr
        assert "queued" not in out.stdout + out.stderr


# ---- 5.9: adopt leaves no half-made project; the forge is what the flag says ---------------
def test_a_failed_adopt_makes_no_project(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"a.txt": "a\n"})
    script = tmp_path / "script.json"
    script.write_text("{}")
    out = plait("adopt", "7", "--repo", str(repo.path), "--forge", "local", "--agent", "script",
                "--script", str(script), home=tmp_path)  # fmt: skip
    assert out.returncode == 2
    assert "no local PR #7" in out.stderr
    assert not (tmp_path / "plait-home" / "projects").exists() or not any(
        (tmp_path / "plait-home" / "projects").iterdir()
    )


def test_a_flag_naming_another_forge_is_refused(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {"tasks": {}})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "loc")
    out = live.plait("run", str(_plan(tmp_path)), "--project", "loc", "--forge", "github")
    assert out.returncode == 2
    assert "uses the local forge, not github" in out.stderr


# ---- 5.12 and 5.13: logs -------------------------------------------------------------------
def test_logs_to_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {"tasks": {"1": {"start": [ONE]}}})
    live.ok("run", str(_plan(tmp_path)), "--repo", str(live.repo), "--script", str(live.script))
    env = cli_env(tmp_path)
    pipeline = subprocess.run(
        f"{sys.executable} -m plait.cli logs 1 --json | head -1",
        shell=True, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert pipeline.stdout.count("\n") == 1
    assert "Traceback" not in pipeline.stderr
    assert "BrokenPipe" not in pipeline.stderr


def test_logs_show_human_lines_and_say_when_there_are_none(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {"tasks": {"1": {"start": [ONE]}}})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "lg")
    live.ok("add", "Later", "--id", "later", "--body", "x")
    out = live.ok("logs", "later")
    assert "no transcript yet for later" in out
    live.ok("run", str(_plan(tmp_path)), "--project", "lg")
    lines = live.ok("logs", "1", "-p", "lg").splitlines()
    assert any(line.startswith("> prompt:") for line in lines)
    assert "-- turn ok" in lines
    assert not any(line.startswith("-- UsageReport") for line in lines)  # a raw record
    assert not any(line.startswith("{") for line in lines)


# ---- 5.10: project names stay readable and unique -------------------------------------------
def test_the_same_plan_in_another_repository_gets_its_own_project(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"tasks": {"1": {"start": [ONE]}}}))
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN.replace("Gameplan: tiny", "Gameplan: Миграция базы"))
    for n in (1, 2):
        repo = GitRepo.init(tmp_path / f"repo{n}", files={"a.txt": "a\n"})
        out = plait("run", str(plan), "--repo", str(repo.path), "--script", str(script),
                    home=tmp_path)  # fmt: skip
        assert out.returncode == 0, out.stderr
    projects = json.loads(plait("projects", "--json", home=tmp_path).stdout)
    assert sorted(p["project"] for p in projects) == ["миграция-базы", "миграция-базы-2"]
    # Running it again in the first repository adds to that repository's project.
    again = plait("run", str(plan), "--repo", str(tmp_path / "repo1"), home=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "nothing to add" in again.stdout or "already" in again.stdout
    assert len(json.loads(plait("projects", "--json", home=tmp_path).stdout)) == 2


# ---- a key given as an agent option is never stored ------------------------------------------
def test_an_api_key_option_must_name_a_variable_and_is_never_stored(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "repo", files={"a.txt": "a\n"})
    base = ("init", "--repo", str(repo.path), "--agent", "codex", "--agent-opt",
            "base_url=http://127.0.0.1:9")  # fmt: skip
    out = plait(*base, "--agent-opt", "api_key=sk-secret-123", home=tmp_path)
    assert out.returncode == 2
    assert "plait does not store keys" in out.stderr
    assert "api_key=env:" in out.stderr
    env = cli_env(tmp_path, MY_KEY="sk-secret-123")
    made = plait(*base, "--agent-opt", "api_key=env:MY_KEY", home=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    for path in (tmp_path / "plait-home").rglob("*"):
        if path.is_file():
            assert b"sk-secret-123" not in path.read_bytes(), path


# ---- found by the dashboard helper ---------------------------------------------------------
def test_status_of_a_project_with_no_tasks_says_so(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "none")
    out = live.plait("status", "none")
    assert out.returncode == 0, out.stderr  # it raised a TypeError building the table
    assert "no tasks yet" in out.stdout


def test_up_with_http_on_a_running_engine_opens_its_listener(tmp_path: Path) -> None:
    live = Live.make(tmp_path, {})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "h")
    assert live.plait("up", "h").returncode == 0
    try:
        again = live.plait("up", "h", "--http", "0")
        assert again.returncode == 0, again.stderr
        assert "its API is also on http://127.0.0.1:" in again.stdout
    finally:
        live.plait("down", "h")


def test_a_plan_sent_to_the_api_with_an_unknown_dependency_is_refused() -> None:
    from plait.api import commands as cmd
    from plait.core.plan import Plan, TaskSpec
    from plait.testing.core_driver import CoreDriver, specs_from

    d = CoreDriver(specs_from({"a": []}))
    d.start()
    plan = Plan(name="p", title="p", tasks=(TaskSpec(id="x", title="x", depends_on=("nope",)),))
    with pytest.raises(cmd.BadRequest, match=r"depends on 'p\.nope'"):
        cmd.add_plan(d.st, plan, now=d.now)
    pair = (
        TaskSpec(id="x", title="x", depends_on=("y",)),
        TaskSpec(id="y", title="y", depends_on=("x",)),
    )
    cyc = Plan(name="p", title="p", tasks=pair)
    with pytest.raises(cmd.BadRequest, match="cycle"):
        cmd.add_plan(d.st, cyc, now=d.now)


# ---- found by the third new-user trial -----------------------------------------------------
def _project(tmp: Path, name: str) -> Live:
    """A project with no tasks on a fresh repository, its engine not started."""
    live = Live.make(tmp, {})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", name)
    return live


@pytest.mark.parametrize("command", [("add", "x"), ("mission", "x")])
def test_an_unknown_agent_is_refused_without_an_engine_too(
    tmp_path: Path, command: tuple[str, str]
) -> None:
    live = _project(tmp_path, "a")
    out = live.plait(*command, "--agent", "nosuch", "-p", "a")
    # It was queued, then failed three turns once an engine ran ("unknown agent backend").
    assert out.returncode == 2, out.stdout + out.stderr
    assert "unknown agent 'nosuch'" in out.stderr
    assert live.json("ps", "-p", "a", "--json") == []


@pytest.mark.parametrize("command", ["up", "web"])
def test_up_with_a_bad_plait_toml_says_its_problems_with_exit_3(
    tmp_path: Path, command: str
) -> None:
    live = _project(tmp_path, "t")
    (live.repo / "plait.toml").write_text("[limits]\nmax_concurency = 3\n")
    out = live.plait(command, "t")
    # It was exit 5 with the engine's log lines run together: "…(exit 3): plait: … / …".
    assert out.returncode == 3, out.stderr
    assert "plait.toml:2: unknown key 'max_concurency'" in out.stderr
    assert " / " not in out.stderr
    assert "stopped at once" not in out.stderr


def test_an_engine_that_dies_at_start_is_told_as_it_said_it(tmp_path: Path) -> None:
    live = _project(tmp_path, "c")
    (live.repo / "plait.toml").write_text('[container]\nimage = "none:latest"\n')
    tools = tmp_path / "tools"  # git and nothing else: no container engine
    tools.mkdir()
    git = shutil.which("git")
    assert git is not None
    (tools / "git").symlink_to(git)
    out = plait("up", "c", home=tmp_path, env=cli_env(tmp_path, PATH=str(tools)))
    assert out.returncode != 0
    first, *rest = out.stderr.splitlines()
    assert first.startswith("plait: the engine of c stopped at once: container isolation")
    assert first.count("plait:") == 1
    assert " / " not in out.stderr
    assert rest
    assert rest[-1].startswith("  hint: ")
    assert "engine.log" in rest[-1]


def test_up_with_http_says_the_port_it_picked(tmp_path: Path) -> None:
    live = _project(tmp_path, "u")
    try:
        out = live.ok("up", "u", "--http", "0")
        # It said only the pid and the log: the port was to be found in engine.json.
        info = json.loads((live.home() / "u" / "engine.json").read_text())
        assert f"its API is also on {info['http']}" in out
        assert "api.token" in out
    finally:
        live.plait("down", "u")


def test_a_refused_blueprint_agent_is_named() -> None:
    from plait.api import commands as cmd
    from plait.api.missions import add_team
    from plait.plans.blueprint import parse_blueprint
    from plait.testing.core_driver import CoreDriver, specs_from

    d = CoreDriver(specs_from({"a": []}))
    d.start()
    text = '[agents.schema]\nprompt = "p"\n[agents.docs]\nprompt = "d"\nallowed_tools = ["Read"]\n'
    team = parse_blueprint(text, "team.toml").to_wire()
    # It said only "agent 'script' cannot be limited to some tools": which of the team's?
    with pytest.raises(cmd.BadRequest, match=r"^agent 'docs': agent '.*' cannot be limited"):
        add_team(d.st, team, now=d.now)


def test_validate_checks_a_ticket_as_a_ticket(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from plait.cli import main

    good = tmp_path / "add-login.md"
    good.write_text("---\nsummary: Add a login page\ndependencies: [setup-db]\n---\nA form.\n")
    bad = tmp_path / "bad.json"
    bad.write_text('{"summary": "x", "difficulty": "impossible"}')
    # Both were read as gameplans: "the plan has no title", "the plan has no tasks".
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert "ticket 'add-login' is valid: Add a login page (after setup-db)" in out
    assert main(["validate", str(bad)]) == 3
    err = capsys.readouterr().err
    assert "difficulty 'impossible'" in err
    assert "plan" not in err


def test_ps_with_no_engine_says_working_tasks_wait_for_one(tmp_path: Path) -> None:
    slow = {"say": "slowly", "actions": [{"sleep": 60}]}
    live = Live.make(tmp_path, {"tasks": {"s": {"start": [slow]}}})
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "w")
    live.ok("add", "slow", "--id", "s", "-p", "w")
    live.ok("up", "w")
    try:
        until(lambda: live.rows("w")["s"]["status"] == "working", what="a working task")
    finally:
        live.ok("down", "w")
    out = live.ok("ps", "-p", "w")
    # The table said "working" with nothing at work and said no more.
    assert "working" in out
    assert "no engine runs for w" in out
    assert "`plait up w`" in out


def test_validate_checks_the_prompt_files_a_swarm_config_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from plait.cli import main

    config = tmp_path / "swarm.toml"
    config.write_text(
        '[swarm]\n[[swarm.workers]]\nname = "w"\nprompts = ["prompts/worker.md"]\n'
        '[review]\nreviewers = [{agent = "codex"}]\n'
    )
    # validate said "valid project settings"; `plait swarm` then refused the missing file.
    assert main(["validate", str(config)]) == 3
    assert f"swarm.toml:4: prompt file {tmp_path}/prompts/worker.md does not exist" in (
        capsys.readouterr().err
    )
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "worker.md").write_text("Be brief.\n")
    assert main(["validate", str(config)]) == 0
