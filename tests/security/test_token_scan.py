"""S1 and S4 through a real engine (issue 14): the forge tokens in plait's environment
never reach an agent, and neither they nor the API token appear in any file plait wrote or
in anything the API and the dashboard answer. The agent prints its whole environment, so
a leak would show in its transcript too.

The torture (tests/torture, `python -m bench R1`) scans the files of its runs as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from plait.testing.torture import files_holding
from tests.api.helpers_live import Live, until

FORGE_TOKENS = {
    "GITHUB_TOKEN": "ghp_s1scanGITHUBtoken0123456789",
    "GH_TOKEN": "gho_s1scanGHtoken0123456789",
    "PLAIT_FORGE_TOKEN": "ghp_s1scanPLAITtoken0123456789",
    "GH_ENTERPRISE_TOKEN": "ghp_s1scanENTERPRISEtoken0123",
    "GITHUB_ENTERPRISE_TOKEN": "ghp_s1scanGHEtoken0123456789",
}


@pytest.mark.timeout(300)
def test_no_token_reaches_an_agent_a_file_or_a_response(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in FORGE_TOKENS.items():
        monkeypatch.setenv(name, value)
    # Only the lines that could hold a secret (a long transcript row would be cut).
    printenv = {"run": ["sh", "-c", "env | grep -i -e token -e _key; echo env-scanned"]}
    script = {
        "default": {
            "start": [
                {
                    "say": "done",
                    "actions": [printenv, {"write": "a.txt", "content": "a\n"}, {"commit": "a"}],
                }
            ]
        }
    }
    live = Live.make(tmp_path, script)
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "--project", "sec")
    up = live.plait("up", "sec", "--http", "0")
    assert up.returncode == 0, up.stderr
    try:
        added = live.json("add", "Print the environment", "--body", "go", "--project", "sec")
        task = str(added["task"])
        until(
            lambda: live.rows("sec").get(task, {}).get("status") == "merged",
            what=f"merged: {live.rows('sec')}",
        )
        project = live.home() / "sec"
        api_token = (project / "api.token").read_text().strip()
        info = json.loads((project / "engine.json").read_text())
        secrets = {**FORGE_TOKENS, "api token": api_token}
        bodies = _responses(info["http"], api_token, task)
    finally:
        live.plait("down", "sec")
    transcript = live.ok("logs", task, "--project", "sec")
    assert "env-scanned" in transcript, transcript[-2000:]
    assert [n for n, v in FORGE_TOKENS.items() if v in transcript] == []
    leaks = files_holding(secrets, tmp_path, skip=frozenset({project / "api.token"}))
    assert leaks == []
    said = [f"{url}: {n}" for url, body in bodies.items() for n, v in secrets.items() if v in body]
    assert said == []


def _responses(base: str, token: str, task: str) -> dict[str, str]:
    """What the dashboard and the API answer an authenticated client, page by page."""
    urls = ["/", "/api/project", "/api/tasks?status=all", f"/api/tasks/{task}",
            f"/api/tasks/{task}/result", f"/api/tasks/{task}/transcript?limit=500",
            f"/api/settled?ids={task}"]  # fmt: skip
    out = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        for url in urls:
            reply = http.get(url)
            out[url] = reply.text + json.dumps(dict(reply.headers))
        first = http.get(f"/?token={token}", follow_redirects=False, headers={})
        # The token trades for a cookie (which must hold it); the body must not show it.
        out["/?token= body"] = first.text
    return out
