"""Run a project's engine as a user service: a systemd user unit (Linux) or a launchd
agent (macOS) that runs `plait up PROJECT --foreground`, restarts it when it fails and
starts it again after logout (lingering) and reboot.

The service's environment is the one it was installed from for `PATH` and `PLAIT_HOME`;
secrets (`GITHUB_TOKEN`, `PLAIT_REVIEWER_TOKEN`, an agent's API key) go in an env file
only the user can read — `<project folder>/service.env`, `NAME=value` lines — which the
unit reads when it starts (systemd) or the engine reads itself (launchd has no env
files): never in the unit or the plist, which others may read.

Rendering is pure (`systemd_unit`, `launchd_plist`); `install`/`uninstall`/`status` run
systemctl, loginctl or launchctl through `run`, so tests can point them at fakes.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from plait.errors import UsageError

Run = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]
KINDS = ("systemd", "launchd")


@dataclass(frozen=True, slots=True)
class Service:
    project: str
    kind: str  # systemd | launchd
    python: str  # the interpreter that runs plait
    home: str  # PLAIT_HOME
    path: str  # PATH for agents, git and the CI command
    env_file: str  # secrets, NAME=value lines (0600)
    log: str  # where launchd writes the engine's output (systemd: the journal)

    @property
    def name(self) -> str:
        return f"plait-{self.project}.service" if self.kind == "systemd" else self.label

    @property
    def label(self) -> str:
        return f"dev.plait.{self.project}"

    @property
    def argv(self) -> list[str]:
        return [self.python, "-m", "plait.cli", "up", self.project, "--foreground"]


def default_kind() -> str:
    return "launchd" if sys.platform == "darwin" else "systemd"


def unit_path(service: Service, user_home: Path) -> Path:
    if service.kind == "systemd":
        config = os.environ.get("XDG_CONFIG_HOME") or str(user_home / ".config")
        return Path(config) / "systemd" / "user" / service.name
    return user_home / "Library" / "LaunchAgents" / f"{service.label}.plist"


def systemd_unit(service: Service) -> str:
    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    exec_start = " ".join(quote(a) if (" " in a or '"' in a) else a for a in service.argv)
    return "\n".join([
        "[Unit]",
        f"Description=plait engine of project {service.project}",
        "Wants=network-online.target",
        "After=network-online.target",
        # Restarts of a crash-looping engine slow down instead of stopping for good.
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={exec_start}",
        f"Environment={quote('PLAIT_HOME=' + service.home)}",
        f"Environment={quote('PATH=' + service.path)}",
        f"EnvironmentFile=-{service.env_file}",
        "Restart=on-failure",
        "RestartSec=10",
        # `plait down` and systemctl stop both end the engine cleanly with SIGTERM.
        "KillMode=mixed",
        "TimeoutStopSec=60",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ])  # fmt: skip


def launchd_plist(service: Service) -> str:
    body = {
        "Label": service.label,
        "ProgramArguments": service.argv,
        "EnvironmentVariables": {
            "PLAIT_HOME": service.home,
            "PATH": service.path,
            "PLAIT_ENV_FILE": service.env_file,
        },
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ProcessType": "Background",
        "StandardOutPath": service.log,
        "StandardErrorPath": service.log,
    }
    return plistlib.dumps(body, sort_keys=False).decode()


def render(service: Service) -> str:
    return systemd_unit(service) if service.kind == "systemd" else launchd_plist(service)


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments skipped; quotes around a value
    dropped), as systemd's EnvironmentFile reads them."""
    out: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def load_env_file(environ: Mapping[str, str] | None = None) -> None:
    """Under launchd: take the service's secrets from its env file (what is set wins)."""
    environ = os.environ if environ is None else environ
    path = environ.get("PLAIT_ENV_FILE")
    if not path:
        return
    for key, value in read_env_file(Path(path)).items():
        os.environ.setdefault(key, value)


# ---- installing ------------------------------------------------------------------------------
def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UsageError(
            f"{argv[0]} is not installed here",
            hint="plait service needs systemd (Linux) or launchd (macOS); "
            "run `plait up --foreground` under your own supervisor instead",
        ) from None


def _must(run: Run, argv: Sequence[str]) -> None:
    done = run(argv)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        last = why[-1] if why else f"exit {done.returncode}"
        hint = "see the message; `plait service status` says where it stands"
        if "connect to bus" in last:
            hint = (
                "no systemd user manager answers here (it runs in a login session; over ssh, "
                "su or in a container there may be none): log in, or run "
                "`plait up --foreground` under a supervisor of your own"
            )
        raise UsageError(f"{shlex.join(argv)} failed: {last}", hint=hint)


def install(service: Service, user_home: Path, *, run: Run = _run) -> Path:
    path = unit_path(service, user_home)
    fresh = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(service), encoding="utf-8")
    env = Path(service.env_file)
    if not env.exists():
        env.parent.mkdir(parents=True, exist_ok=True)
        env.write_text("# NAME=value lines for the engine: GITHUB_TOKEN=…\n", encoding="utf-8")
    env.chmod(0o600)
    try:
        _start(service, path, run)
    except UsageError:
        # A unit left behind by a failed first install made `service status` say
        # "installed", and uninstall then failed the same way.
        if fresh:
            path.unlink(missing_ok=True)
        raise
    return path


def _start(service: Service, path: Path, run: Run) -> None:
    if service.kind == "systemd":
        _must(run, ["systemctl", "--user", "daemon-reload"])
        _must(run, ["systemctl", "--user", "enable", "--now", service.name])
        # Lingering keeps the user's services running after logout and starts them at boot.
        _must(run, ["loginctl", "enable-linger", _user()])
    else:
        domain = f"gui/{os.getuid()}"
        run(["launchctl", "bootout", f"{domain}/{service.label}"])  # a previous version
        _must(run, ["launchctl", "bootstrap", domain, str(path)])


def uninstall(service: Service, user_home: Path, *, run: Run = _run) -> bool:
    """Stop and remove the service; False when it was not installed."""
    path = unit_path(service, user_home)
    if not path.exists():
        return False
    if service.kind == "systemd":
        run(["systemctl", "--user", "disable", "--now", service.name])
        path.unlink()
        # With no user manager answering there is nothing to reload: the unit is gone.
        run(["systemctl", "--user", "daemon-reload"])
    else:
        run(["launchctl", "bootout", f"gui/{os.getuid()}/{service.label}"])
        path.unlink()
    return True


@dataclass(frozen=True, slots=True)
class Status:
    installed: bool
    enabled: bool
    running: bool
    path: str
    detail: str = ""


def status(service: Service, user_home: Path, *, run: Run = _run) -> Status:
    path = unit_path(service, user_home)
    if not path.exists():
        return Status(installed=False, enabled=False, running=False, path=str(path))
    if service.kind == "systemd":
        enabled = run(["systemctl", "--user", "is-enabled", service.name]).stdout.strip()
        active = run(["systemctl", "--user", "is-active", service.name]).stdout.strip()
        return Status(installed=True, enabled=enabled == "enabled", running=active == "active",
                      path=str(path), detail=active)  # fmt: skip
    done = run(["launchctl", "print", f"gui/{os.getuid()}/{service.label}"])
    loaded = done.returncode == 0
    running = loaded and "state = running" in done.stdout
    return Status(installed=True, enabled=loaded, running=running, path=str(path))


def _user() -> str:
    import getpass

    return getpass.getuser()
