"""`tools/agent-clis/install` and `tools/github-schema/install` run from several processes
at once (two pytest workers' session fixtures start together): npm runs once, and every
caller gets the installed path.

A stand-in `npm` first on PATH counts its runs and fills `--prefix` slowly, so the two
callers overlap for sure; the scripts themselves are the repository's.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_NPM = """#!/usr/bin/env bash
# npm ci --prefix DIR ...: note the run, take a while, fill DIR/node_modules.
set -euo pipefail
prefix=""
while (( $# )); do
  if [[ "$1" == --prefix ]]; then prefix="$2"; shift; fi
  shift
done
echo run >>"$NPM_RUNS"
sleep 1
mkdir -p "$prefix/node_modules/.bin" "$prefix/node_modules/@octokit/graphql-schema"
echo "type Query { ok: Boolean }" >"$prefix/node_modules/@octokit/graphql-schema/schema.graphql"
"""


@pytest.mark.parametrize(
    ("tool", "variable", "printed"),
    [
        ("agent-clis", "PLAIT_AGENT_CLIS_DIR", "node_modules/.bin"),
        ("github-schema", "PLAIT_GITHUB_SCHEMA_DIR", "graphql-schema/schema.graphql"),
    ],
)
def test_two_installs_at_once_run_npm_once_and_both_succeed(
    tool: str, variable: str, printed: str, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(FAKE_NPM)
    npm.chmod(0o755)
    runs = tmp_path / "npm-runs"
    dest = tmp_path / "dest"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "NPM_RUNS": str(runs),
        variable: str(dest),
    }
    script = str(ROOT / "tools" / tool / "install")
    procs = [
        subprocess.Popen(
            [script, "--quiet"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [proc.communicate(timeout=60) for proc in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert out.strip().endswith(printed), out
        assert Path(out.strip()).exists(), out
    assert runs.read_text().splitlines() == ["run"]  # the second caller found it done
    assert not list(dest.glob(".tmp.*"))
    assert not (dest / "node_modules" / "node_modules").exists()
