"""The dashboard's project: `plait web` run against it, and agents the test lets finish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.api.helpers_live import Live


def web_url(live: Live, project: str, *args: str) -> dict[str, Any]:
    """`plait web PROJECT --json`: the dashboard's URL (with the token) and whether the
    command started the engine."""
    out = live.plait("web", project, "--json", *args)
    assert out.returncode == 0, out.stderr
    reply: dict[str, Any] = json.loads(out.stdout)
    return reply


def gate(path: Path) -> dict[str, Any]:
    """A script action that waits until `path` exists: the test says when a turn ends."""
    return {"run": ["sh", "-c", f"while [ ! -e {path} ]; do sleep 0.05; done"]}
