"""Container isolation: the command line, the message without an engine, and a real run
when Docker or Podman answers on this machine (skipped, saying why, when none does)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from plait.agents.base import TurnSpec
from plait.agents.registry import get_backend
from plait.errors import ProjectError
from plait.plans.config import parse_config
from plait.testing.gitrepo import GitRepo
from plait.workspaces.containers import (
    ENGINES,
    Container,
    Containerized,
    container_argv,
    find_engine,
)


def test_an_agent_runs_in_the_image_with_its_folders_and_variables_by_name() -> None:
    box = Container(engine="/usr/bin/docker", image="agents:1", mounts=("/repo", "/wt"))
    env = {"PLAIT_TASK_ID": "t1", "PATH": "/bin", "KEY": "s"}
    argv = container_argv(box, "/wt/t1", ["claude", "-p", "hi"], env)
    assert argv[:7] == ["/usr/bin/docker", "run", "--rm", "-i", "--init", "--network", "host"]
    assert argv[argv.index("-w") + 1] == "/wt/t1"
    mounts = [argv[i + 1] for i, a in enumerate(argv) if a == "-v"]
    assert mounts == ["/repo:/repo", "/wt:/wt", "/wt/t1:/wt/t1"]
    passed = [argv[i + 1] for i, a in enumerate(argv) if a == "-e"]
    assert passed == ["KEY", "PLAIT_TASK_ID"]  # names only: no secret on the command line
    assert "s" not in argv
    assert argv[-4:] == ["agents:1", "claude", "-p", "hi"]


def test_a_containerized_backend_keeps_its_environment_and_decoder(tmp_path: Path) -> None:
    inner = get_backend("claude", {}, home=str(tmp_path))
    spec = TurnSpec(prompt="hi", workdir="/wt/t1", task_id="t1", project="p")
    env = inner.env({"ANTHROPIC_API_KEY": "k"}, spec)
    wrapped = Containerized(inner, Container(engine="podman", image="img"), tuple(env))
    assert wrapped.env({"ANTHROPIC_API_KEY": "k"}, spec) == env
    argv = wrapped.argv(spec)
    assert argv[0] == "podman"
    assert argv[argv.index("img") + 1 :] == inner.argv(spec)
    assert "ANTHROPIC_API_KEY" in argv
    assert type(wrapped.decoder()) is type(inner.decoder())


def test_plait_toml_names_the_image_and_engine() -> None:
    cfg = parse_config('[container]\nimage = "agents:1"\nengine = "podman"\n')
    assert (cfg.container_image, cfg.container_engine) == ("agents:1", "podman")


def _engine() -> str | None:
    try:
        return find_engine()
    except ProjectError:
        return None


def test_without_a_running_engine_the_message_says_what_is_missing_and_what_to_do() -> None:
    if _engine() is not None:
        pytest.skip("a container engine answers on this machine: there is nothing missing")
    with pytest.raises(ProjectError) as caught:
        find_engine()
    installed = [e for e in ENGINES if shutil.which(e)]
    if installed:
        assert "is installed but its engine does not answer" in caught.value.message
    else:
        assert "none is installed" in caught.value.message
    assert "remove [container] from plait.toml" in caught.value.hint
    with pytest.raises(ProjectError, match="none is installed"):
        find_engine("no-such-container-client")


IMAGE = os.environ.get("PLAIT_TEST_IMAGE", "busybox")


@pytest.mark.skipif(_engine() is None, reason="no Docker or Podman engine answers here")
def test_a_command_runs_inside_the_container_in_the_mounted_workspace(tmp_path: Path) -> None:
    engine = _engine()
    assert engine is not None
    have = subprocess.run([engine, "image", "inspect", IMAGE], capture_output=True, check=False)
    if have.returncode != 0:
        pytest.skip(f"image {IMAGE} is not present (no network to pull it; set PLAIT_TEST_IMAGE)")
    (tmp_path / "in.txt").write_text("hello\n")
    box = Container(engine=engine, image=IMAGE, mounts=(str(tmp_path),))
    command = ["sh", "-c", 'cat in.txt; echo "$GREETING"']
    argv = container_argv(box, str(tmp_path), command, {"GREETING": ""})
    env = {**os.environ, "GREETING": "hi"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["hello", "hi"]


def plait(*args: str, home: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
    env.update(PLAIT_HOME=str(home / "plait-home"), HOME=str(home))
    return subprocess.run([sys.executable, "-m", "plait.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def test_an_engine_asked_for_containers_without_one_does_not_start(tmp_path: Path) -> None:
    if _engine() is not None:
        pytest.skip("a container engine answers on this machine")
    repo = GitRepo.init(tmp_path / "repo", files={"plait.toml": '[container]\nimage = "a:1"\n'})
    script = tmp_path / "s.json"
    script.write_text("{}")
    init = plait("init", "--repo", str(repo.path), "-p", "c", "--agent", "script", "--script",
                 str(script), home=tmp_path)  # fmt: skip
    assert init.returncode == 0, init.stderr
    up = plait("up", "c", "--foreground", home=tmp_path, timeout=60)
    assert up.returncode == 5
    assert "container isolation" in up.stderr
    assert "hint:" in up.stderr
    assert "Traceback" not in up.stderr
