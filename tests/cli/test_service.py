"""`plait service`: the systemd unit and the launchd plist (golden, and checked by
`systemd-analyze verify` / `plutil -lint` where those exist), and install/uninstall/status
through fake systemctl, loginctl and launchctl on PATH that record what they were asked."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from plait.service import Service, launchd_plist, load_env_file, read_env_file, systemd_unit
from tests.cli.helpers_cli import cli_env, plait

SERVICE = Service(
    project="notes", kind="systemd", python="/opt/py/bin/python3", home="/home/ann/.plait",
    path="/usr/local/bin:/usr/bin:/bin", env_file="/home/ann/.plait/projects/notes/service.env",
    log="/home/ann/.plait/projects/notes/engine.log",
)  # fmt: skip

GOLDEN_UNIT = """\
[Unit]
Description=plait engine of project notes
Wants=network-online.target
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart=/opt/py/bin/python3 -m plait.cli up notes --foreground
Environment="PLAIT_HOME=/home/ann/.plait"
Environment="PATH=/usr/local/bin:/usr/bin:/bin"
EnvironmentFile=-/home/ann/.plait/projects/notes/service.env
Restart=on-failure
RestartSec=10
KillMode=mixed
TimeoutStopSec=60

[Install]
WantedBy=default.target
"""


def test_the_systemd_unit_is_as_golden() -> None:
    assert systemd_unit(SERVICE) == GOLDEN_UNIT


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit_without_a_word(tmp_path: Path) -> None:
    unit = tmp_path / "plait-notes.service"
    unit.write_text(systemd_unit(replace(SERVICE, python=sys.executable)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_launchd_plist_keeps_the_engine_alive_and_names_no_secret() -> None:
    text = launchd_plist(replace(SERVICE, kind="launchd"))
    body = plistlib.loads(text.encode())
    assert body["Label"] == "dev.plait.notes"
    assert body["ProgramArguments"] == [
        "/opt/py/bin/python3", "-m", "plait.cli", "up", "notes", "--foreground",
    ]  # fmt: skip
    assert (body["RunAtLoad"], body["KeepAlive"]) == (True, {"SuccessfulExit": False})
    assert body["EnvironmentVariables"]["PLAIT_ENV_FILE"] == SERVICE.env_file
    assert "TOKEN" not in text
    if shutil.which("plutil"):
        path = Path(os.environ.get("TMPDIR", "/tmp")) / "dev.plait.notes.plist"
        path.write_text(text)
        assert subprocess.run(["plutil", "-lint", str(path)], check=False).returncode == 0


def test_the_env_file_is_read_like_systemd_reads_it(tmp_path: Path) -> None:
    env = tmp_path / "service.env"
    env.write_text("# secrets\nGITHUB_TOKEN='ghp_x'\n\nPLAIT_REVIEWER_TOKEN=r y\nbad line\n")
    assert read_env_file(env) == {"GITHUB_TOKEN": "ghp_x", "PLAIT_REVIEWER_TOKEN": "r y"}
    before = dict(os.environ)
    load_env_file({})  # no PLAIT_ENV_FILE (systemd): nothing to read
    assert dict(os.environ) == before


FAKE = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
case "$*" in
  *is-enabled*) [ -f "{state}" ] && echo enabled || echo disabled ;;
  *is-active*) [ -f "{state}" ] && echo active || echo inactive ;;
  *"enable --now"*) touch "{state}" ;;
  *"disable --now"*) rm -f "{state}" ;;
esac
"""


@pytest.fixture
def fakes(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir, log, state = tmp_path / "bin", tmp_path / "calls.log", tmp_path / "enabled"
    bin_dir.mkdir()
    for tool in ("systemctl", "loginctl"):
        script = bin_dir / tool
        script.write_text(FAKE.format(log=log, state=state))
        script.chmod(0o755)
    env = cli_env(tmp_path, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                  XDG_CONFIG_HOME=str(tmp_path / "config"))  # fmt: skip
    return env, log


def test_install_status_uninstall_through_systemctl(
    tmp_path: Path, fakes: tuple[dict[str, str], Path]
) -> None:
    env, log = fakes
    _project(tmp_path)
    before = plait("service", "status", "notes", "--kind", "systemd", home=tmp_path, env=env)
    done = plait("service", "install", "notes", "--kind", "systemd", home=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    unit = tmp_path / "config" / "systemd" / "user" / "plait-notes.service"
    assert f"ExecStart={sys.executable} -m plait.cli up notes --foreground" in unit.read_text()
    env_file = tmp_path / "plait-home" / "projects" / "notes" / "service.env"
    assert env_file.stat().st_mode & 0o777 == 0o600
    after = plait("service", "status", "notes", "--kind", "systemd", "--json",
                  home=tmp_path, env=env)  # fmt: skip
    gone = plait("service", "uninstall", "notes", "--kind", "systemd", home=tmp_path, env=env)
    assert "is not installed" in before.stdout
    assert json.loads(after.stdout) | {"path": ""} == {
        "service": "plait-notes.service", "installed": True, "enabled": True, "running": True,
        "path": "",
    }  # fmt: skip
    assert (gone.returncode, unit.exists()) == (0, False)
    user = os.environ.get("USER") or __import__("getpass").getuser()
    assert log.read_text().splitlines() == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now plait-notes.service",
        f"loginctl enable-linger {user}",
        "systemctl --user is-enabled plait-notes.service",
        "systemctl --user is-active plait-notes.service",
        "systemctl --user disable --now plait-notes.service",
        "systemctl --user daemon-reload",
    ]


def test_without_systemctl_install_says_so_in_one_line(tmp_path: Path) -> None:
    _project(tmp_path)
    env = cli_env(tmp_path, PATH=str(tmp_path / "empty"), XDG_CONFIG_HOME=str(tmp_path / "c"))
    done = subprocess.run([sys.executable, "-m", "plait.cli", "service", "install", "notes",
                           "--kind", "systemd"], env=env, capture_output=True, text=True,
                          check=False)  # fmt: skip
    assert done.returncode != 0
    assert "systemctl is not installed here" in done.stderr
    assert "Traceback" not in done.stderr


def _project(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@x.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "start"], cwd=repo, check=True)
    script = tmp_path / "script.json"
    script.write_text("{}")
    made = plait("init", "--repo", str(repo), "--project", "notes", "--script", str(script),
                 home=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr


def test_install_with_no_user_manager_leaves_nothing_behind(tmp_path: Path) -> None:
    _project(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"  # as over ssh or in a container: no user bus
    fake.write_text('#!/bin/sh\necho "Failed to connect to bus: No medium found" >&2\nexit 1\n')
    fake.chmod(0o755)
    env = cli_env(tmp_path, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                  XDG_CONFIG_HOME=str(tmp_path / "config"))  # fmt: skip
    done = plait("service", "install", "notes", "--kind", "systemd", home=tmp_path, env=env)
    assert done.returncode == 2
    assert "no systemd user manager answers here" in done.stderr
    # The unit stayed: status said "installed, not enabled", and uninstall failed too.
    unit = tmp_path / "config" / "systemd" / "user" / "plait-notes.service"
    assert not unit.exists()
    status = plait("service", "status", "notes", "--kind", "systemd", home=tmp_path, env=env)
    assert "is not installed" in status.stdout
