"""What a new user's trial of the README found (a fresh clone, every command, bad input
everywhere): each case here failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

from tests.api.helpers_live import Live


def _two_projects_on_one_repo(tmp: Path) -> Live:
    live = Live.make(tmp, {})
    for name in ("one", "two"):
        live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", name)
    return live


def test_ps_with_a_status_no_task_has_names_the_statuses_there_are(tmp_path: Path) -> None:
    live = _two_projects_on_one_repo(tmp_path)
    live.ok("add", "Write the notes", "--body", "notes/a.txt", "-p", "one")
    out = live.plait("ps", "-p", "one", "--status", "bogus")
    assert out.returncode == 0, out.stderr
    # It said "no tasks", as if the status existed and nothing was in it.
    assert out.stdout.strip() == "no task is bogus; statuses now: queued (1)"
    assert json.loads(live.ok("ps", "-p", "one", "--status", "bogus", "--json")) == []
