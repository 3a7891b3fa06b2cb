"""What the quick `plait` commands must not import, and a look at what a fresh interpreter
did import: the CLI-start tests (`tests/cli/test_cli_start.py`) and benchmark P10 share it.

The CLI starts constantly (people run `plait ps`, agents run it inside their turns, the
test suite hundreds of times), and these modules cost most of a second of CPU at a start:
the web server, the TUI, Temporal's SDK, httpx with the command line it brings along
(click, rich), asyncio, and plait's engine and agent backends. `plait ps`, `logs` and
`send` need none of them, whether the project's engine runs or not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import plait

HEAVY = (
    "asyncio",
    "click",
    "httpx",
    "plait.agents.registry",
    "plait.api.server",
    "plait.cli.faces",
    "plait.cli.running",
    "plait.engine.executors",
    "plait.engine.loop",
    "plait.forges.github",
    "rich",
    "starlette",
    "temporalio",
    "textual",
    "uvicorn",
)

# `plait` from the sources this module was imported from, whatever the caller's path says.
SRC = str(Path(plait.__file__).resolve().parents[1])


def with_this_plait(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with this plait's sources first on PYTHONPATH."""
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != SRC]
    return {**env, "PYTHONPATH": os.pathsep.join([SRC, *rest])}


def heavy_imports(code: str, env: Mapping[str, str]) -> list[str]:
    """The modules of `HEAVY` (and under them) a fresh interpreter holds after `code`."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=with_this_plait(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the interpreter failed (exit {out.returncode}): {out.stderr}")
    modules: list[str] = json.loads(out.stdout.splitlines()[-1])
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def quick_commands(task: str) -> str:
    """Code that runs `plait ps`, `logs` and `send` on the only project, each as `main`
    runs it (a failure is an AssertionError naming the command)."""
    return (
        "from plait.cli import main\n"
        f"for argv in (['ps'], ['ps', '--all', '--json'], ['logs', {task!r}],\n"
        f"             ['send', {task!r}, 'the file is one.txt']):\n"
        "    assert main(argv) == 0, argv\n"
    )
