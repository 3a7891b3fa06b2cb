"""Running the real `plait` command in a subprocess with an isolated home."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PLAIT_"))}
    env.update(PLAIT_HOME=str(home / "plait-home"), HOME=str(home), LANG="C.UTF-8")
    env.update(extra)
    return env


def plait(
    *args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plait.cli", *args],
        env=env or cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
