"""A worker's folder is private, as every folder of plait's is."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from plait.scaleout import default_root
from plait.scaleout.worker import make_folder


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_default_folder_and_plait_homes_workers_folder_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "home"))
    root = default_root("w1")
    make_folder(root)
    assert _mode(root) == 0o700
    assert _mode(root.parent) == 0o700
    assert _mode(tmp_path / "home") == 0o700


def test_a_folder_made_open_before_is_tightened(tmp_path: Path) -> None:
    root = tmp_path / "srv" / "worker"
    root.mkdir(parents=True, mode=0o755)
    root.chmod(0o755)
    make_folder(root)
    assert _mode(root) == 0o700
