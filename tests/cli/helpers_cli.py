"""Running the real `plait` command in a subprocess with an isolated home.

The subprocess must run the checkout under test: `sys.executable -m plait.cli` alone
imports whatever `plait` that interpreter finds first, which is an editable install of
another checkout when the tests run with its interpreter, or a `PYTHONPATH` inherited from
the caller. `cli_env` puts this checkout's `src` first on `PYTHONPATH`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
    env.update(PLAIT_HOME=str(home / "plait-home"), HOME=str(home), LANG="C.UTF-8")
    env.update(extra)
    return checkout_env(env)


def checkout_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with this checkout's sources first on PYTHONPATH."""
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != SRC]
    return {**env, "PYTHONPATH": os.pathsep.join([SRC, *rest])}


def plait(
    *args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plait.cli", *args],
        env=checkout_env(env) if env is not None else cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
