"""Starting a project's engine in the background: what `plait up` and `plait web` share."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from plait.api.client import LiveAPI, engine_address
from plait.engine.project import check_repository, open_project
from plait.errors import ProjectError
from plait.store.paths import project_paths

_UP_WAIT = 30.0  # seconds to wait for the background engine to answer


def warn_port_kept(name: str, base: str, asked: int | None, *, serves: str, again: str) -> None:
    """A running engine keeps the loopback port it has: say so when another was asked for,
    and how to move it (`again`: the command that asks for it on a fresh engine)."""
    if asked and not base.endswith(f":{asked}"):
        print(
            f"plait: warning: the engine of {name} already serves {serves} on {base}, not "
            f"port {asked}; to move it: `plait down {name}`, then `{again}`",
            file=sys.stderr,
        )


def start_engine(name: str, *, http: int | None = None, token: str | None = None) -> int:
    """Start the project's engine in a background process (`plait up --foreground`, in a
    session of its own); return its pid once its API answers."""
    proj = open_project(name)
    try:
        # Said here, rather than as an engine that died at once: the repository, and
        # plait.toml with every problem at its line and exit code 3.
        check_repository(proj)
        proj.effective()
    finally:
        proj.close()
    log_path = project_paths(name).engine_log
    argv = [sys.executable, "-m", "plait.cli", "up", name, "--foreground"]
    if http is not None:
        argv += ["--http", str(http)]
    with open(log_path, "ab") as log:
        os.chmod(log_path, 0o600)
        seen = log.tell()  # the log of earlier engines is not this one's story
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=_engine_env(token),
        )
    proj = open_project(name)
    try:
        deadline = time.monotonic() + _UP_WAIT
        while time.monotonic() < deadline:
            if child.poll() is not None:
                with open(log_path, "rb") as log:
                    log.seek(seen)
                    tail = log.read().decode(errors="replace").strip().splitlines()[-20:]
                raise EngineStopped(name, child.returncode, tail, str(log_path))
            socket = engine_address(proj, wait=0)
            if socket is not None:
                api = LiveAPI(name, socket)
                try:
                    api.project()
                except ProjectError:
                    pass
                else:
                    return child.pid
                finally:
                    api.close()
            time.sleep(0.1)
    finally:
        proj.close()
    raise ProjectError(
        f"the engine of {name} did not answer within {_UP_WAIT:g}s", hint=f"see {log_path}"
    )


class EngineStopped(ProjectError):
    """A background engine that died before it answered, told as it said it (its last
    `plait: …` error and hint) and with its exit code: the log is for the details."""

    def __init__(self, name: str, code: int, tail: list[str], log_path: str) -> None:
        starts = [i for i, line in enumerate(tail) if line.startswith("plait: ")]
        said = tail[starts[-1] :] if starts else tail[-1:]
        hints = [line.strip().removeprefix("hint: ") for line in said if _is_hint(line)]
        lines = [line.removeprefix("plait: ") for line in said if not _is_hint(line)]
        why = "\n".join(lines) or f"exit {code}"
        hint = f"{hints[-1]}; the log: {log_path}" if hints else f"see {log_path}"
        super().__init__(f"the engine of {name} stopped at once: {why}", hint=hint)
        if code in _SAID_CODES:
            self.exit_code = code


_SAID_CODES = frozenset(range(2, 9))  # plait's own exit codes for a user's problem


def _is_hint(line: str) -> bool:
    return line.strip().startswith("hint: ")


def _engine_env(token: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if token:
        env["GITHUB_TOKEN"] = token  # in memory of the child only, never on disk
    return env
