"""`--agent-opt` from the command line: a mistake teaches, a custom provider just works."""

from __future__ import annotations

import json
from pathlib import Path

from plait.testing.gitrepo import GitRepo
from tests.cli.helpers_cli import plait

PLAN = """# Gameplan: options

## Patches

### Patch 1 [INFRA]: Add a note
Write notes/one.txt.

## Dependency Graph

- Patch 1 [INFRA] -> []
"""


def _run(tmp_path: Path, *options: str) -> tuple[int, str, str]:
    repo = GitRepo.init(tmp_path / "repo", files={"README.md": "notes\n"})
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    argv = ["run", str(plan), "--repo", str(repo.path), "--project", "opts", "--json"]
    done = plait(*argv, "--agent", "pi", *options, home=tmp_path)
    return done.returncode, done.stdout, done.stderr


def test_a_misspelt_option_is_a_usage_error_suggesting_the_right_one(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path, "--agent-opt", "base_ur=http://127.0.0.1:9")
    assert code == 2, err
    assert "Traceback" not in err
    assert "has no option base_ur" in err
    assert "did you mean base_url?" in err


def test_a_bad_value_is_a_usage_error_saying_how_to_write_it(tmp_path: Path) -> None:
    args = ("--agent-opt", "base_url=http://127.0.0.1:9", "--agent-opt", "max_retries=lots")
    code, _, err = _run(tmp_path, *args)
    assert code == 2, err
    assert "Traceback" not in err
    assert "max_retries=lots" in err
    assert "--agent-opt max_retries=3" in err


def test_a_custom_provider_without_config_home_runs_with_the_projects_folder(
    tmp_path: Path,
) -> None:
    """This used to end in a ValueError traceback from PiBackend's constructor (exit 1).
    The stand-in `pi` fails every turn: the run ends needing attention, not in a crash,
    and pi's provider config is in the project, where a restart finds its sessions."""
    args = ("--agent-opt", "base_url=http://127.0.0.1:9", "--agent-opt", "executable=/bin/false")
    code, out, err = _run(tmp_path, *args)
    assert "Traceback" not in err
    assert code not in (0, 1, 2), err
    assert json.loads(out.splitlines()[-1])["outcome"] == "needs-attention"
    models = tmp_path / "plait-home" / "projects" / "opts" / "agents" / "pi" / "models.json"
    assert json.loads(models.read_text())["providers"]["plait"]["baseUrl"] == "http://127.0.0.1:9"
