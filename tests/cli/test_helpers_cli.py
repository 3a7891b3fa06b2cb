"""The `plait` the CLI tests start is this checkout's, whatever else is on the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.helpers_cli import SRC, cli_env, plait


@pytest.fixture
def decoy(tmp_path: Path) -> Path:
    """Another `plait` (say, an editable install of another checkout) that says so."""
    package = tmp_path / "elsewhere" / "plait"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text("print('the plait of another checkout')\n")
    return package.parent


def test_plait_runs_this_checkout_when_another_plait_is_on_the_path(
    tmp_path: Path, decoy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(decoy))
    done = plait("--version", home=tmp_path)
    assert "another checkout" not in done.stdout
    assert done.returncode == 0, done.stderr
    explicit = plait("--version", home=tmp_path, env={"PYTHONPATH": str(decoy), "PATH": "/bin"})
    assert "another checkout" not in explicit.stdout


def test_cli_env_puts_this_checkouts_sources_first(tmp_path: Path, decoy: Path) -> None:
    env = cli_env(tmp_path, PYTHONPATH=f"{decoy}:{SRC}")
    assert env["PYTHONPATH"].split(":") == [SRC, str(decoy)]
    assert Path(SRC, "plait", "__init__.py").is_file()
