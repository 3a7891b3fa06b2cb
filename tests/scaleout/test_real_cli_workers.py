"""A real agent CLI (claude) on two `plait worker`s against the model-API double: the
same plan lands the same tree as when the CLI runs on the controller's machine.

The options that aim the CLI at the double (its executable, its model) travel with each
turn from the controller; its environment (the double's URL, a fake key, the config
dir) is the workers' own, as a real worker's keys are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from plait.testing.model_api import ModelAPIDouble, shell_turn
from plait.testing.model_api_clis import cli_options, plait_run_args
from plait.testing.temporal import TemporalDevServer
from tests.engine.test_real_agents_e2e import TURN_USAGE, main_tree, make_repo, plait, scrubbed_env
from tests.scaleout.workers import Workers

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CLI = "claude"
TITLES = {str(i): f"Add the module number {i}" for i in range(1, 5)}


def _plan() -> str:
    patches = "".join(
        f"### Patch {i} [INFRA]: {title}\n\nWrite the module.\n\n" for i, title in TITLES.items()
    )
    graph = "".join(f"- Patch {i} [INFRA] -> []\n" for i in TITLES)
    return f"# Gameplan: modules\n\n## Patches\n\n{patches}## Dependency Graph\n\n{graph}"


def _double() -> ModelAPIDouble:
    api = ModelAPIDouble()
    for i, title in TITLES.items():
        command = (
            f"printf 'VALUE = {i}\\n' > m{i}.py && git add m{i}.py && git commit -qm 'Add m{i}'"
        )
        api.add_route(title, shell_turn(command, text="start turn done.", usage=TURN_USAGE))
    return api


def _run(tmp: Path, args: list[str], env: Mapping[str, str], project: str) -> dict[str, Any]:
    repo = make_repo(tmp / project, env)
    plan = tmp / "plan.md"
    plan.write_text(_plan())
    argv = ["run", str(plan), "--repo", str(repo), "--project", project, "--json", *args]
    done = plait(argv, {**env, "PLAIT_HOME": str(tmp / "plait-home")}, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    summary["tree"] = main_tree(repo, env)
    return summary


def test_a_real_cli_on_two_workers_lands_what_it_lands_here(
    clis_bin: Path, temporal: TemporalDevServer, queue: str, tmp_path: Path
) -> None:
    base = scrubbed_env(tmp_path / "home")
    with _double() as api:
        options, env = cli_options(api, CLI, clis_bin, home=tmp_path / "cli-here", base_env=base)
        here = _run(tmp_path, plait_run_args(CLI, options), env, "here")
        assert all(api.route_turns_started(t) == 1 for t in TITLES.values())

    with _double() as api:
        options, env = cli_options(api, CLI, clis_bin, home=tmp_path / "cli-there", base_env=base)
        executor = ["--executor", f"temporal://{temporal.address}/{queue}"]
        with Workers.start(tmp_path, temporal, queue, ["wa", "wb"], env=env, agents=CLI,
                           slots=2) as workers:  # fmt: skip
            there = _run(tmp_path, [*plait_run_args(CLI, options), *executor], env, "there")
            worked = {n: sorted(p.name for p in w.root.glob("work/there-*/*")) for n, w in
                      workers.items()}  # fmt: skip
        assert all(api.route_turns_started(t) == 1 for t in TITLES.values())
        assert api.exhausted == 0

    assert there["outcome"] == here["outcome"] == "merged"
    assert there["tree"] == here["tree"]
    assert [t["turns"] for t in there["tasks"]] == [t["turns"] for t in here["tasks"]] == [1] * 4
    for row in there["tasks"]:
        assert int(row["output_tokens"]) >= TURN_USAGE.output_tokens, row
    # Max concurrency 4, two slots each: both workers ran turns, each task on one.
    assert worked["wa"], worked
    assert worked["wb"], worked
    assert sorted(worked["wa"] + worked["wb"]) == sorted(TITLES)
