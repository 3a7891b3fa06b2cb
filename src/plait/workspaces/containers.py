"""Optional isolation: run each agent inside a Docker or Podman container.

When plait.toml says `[container] image = "…"` (and optionally `engine = "docker" |
"podman"`), every agent turn runs as `<engine> run --rm -i --init` of that image, with the
project's repository and task worktrees mounted at the same paths (a worktree's `.git`
file points into the repository), the turn's folder as the working directory, the
agent's environment passed by name, and the host network (the model API, the task's
ports). The image must hold the agent CLI. The engine is looked for when the project's
engine starts: with neither installed, or with a client whose daemon does not answer,
plait says so and does not start rather than run agents unisolated.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from plait.agents.base import AgentBackend, StreamDecoder, TurnSpec
from plait.errors import ProjectError

ENGINES = ("docker", "podman")
_PROBE_TIMEOUT = 10.0
# Variables the container must not take from the host: they describe the host's user
# session, not the agent's.
_HOST_ONLY = frozenset({"PATH", "HOME", "PWD", "SHLVL", "_", "OLDPWD", "TERM"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    engine: str  # the client's path
    image: str
    mounts: tuple[str, ...] = ()  # host folders mounted at the same path


def find_engine(wanted: str = "") -> str:
    """The path of a container client whose engine answers; a ProjectError saying what is
    missing otherwise."""
    names = (wanted,) if wanted else ENGINES
    found = [(n, shutil.which(n)) for n in names]
    installed = [(n, p) for n, p in found if p]
    if not installed:
        raise ProjectError(
            f"container isolation needs {' or '.join(names)}, and none is installed",
            hint="install Docker or Podman, or remove [container] from plait.toml",
        )
    why = ""
    for name, path in installed:
        assert path is not None
        problem = _probe(path)
        if problem is None:
            return path
        why = f"{name} is installed but its engine does not answer ({problem})"
    raise ProjectError(
        f"container isolation: {why}",
        hint="start the Docker daemon (or use Podman), or remove [container] from plait.toml",
    )


def _probe(client: str) -> str | None:
    try:
        done = subprocess.run(
            [client, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        return lines[-1] if lines else f"exit {done.returncode}"
    return None


def container_argv(
    box: Container, workdir: str, argv: Sequence[str], env: Mapping[str, object]
) -> list[str]:
    """`argv` run inside `box`'s image, in `workdir`, seeing the variables named in `env`
    (their values come from the client's own environment, never the command line)."""
    out = [box.engine, "run", "--rm", "-i", "--init", "--network", "host"]
    for folder in dict.fromkeys((*box.mounts, workdir)):
        out += ["-v", f"{folder}:{folder}"]
    out += ["-w", workdir]
    for name in sorted(env):
        if name not in _HOST_ONLY:
            out += ["-e", name]  # the value comes from the client's own environment
    return [*out, box.image, *argv]


@dataclass(frozen=True)
class Containerized:
    """One turn of a backend run inside a container; everything else is the backend's.
    Made per turn: `passed` are the names of the turn's environment variables."""

    inner: AgentBackend
    box: Container
    passed: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.inner.name

    def argv(self, spec: TurnSpec) -> list[str]:
        names = dict.fromkeys(self.passed)
        return container_argv(self.box, spec.workdir, self.inner.argv(spec), names)

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        return self.inner.env(base, spec)

    def decoder(self) -> StreamDecoder:
        return self.inner.decoder()

    def prepare_home(self) -> None:
        self.inner.prepare_home()
