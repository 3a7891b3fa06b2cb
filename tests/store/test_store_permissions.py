"""A project's folder and store are private to the user, even under a permissive umask.

Prompts, transcripts and review text live there. Everything is created 0700 (folders) or
0600 (the database and its WAL and shared-memory files), and a home made by an older plait
with 0755/0644 is tightened when a project is opened.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait.engine.project import create_project, open_project
from plait.engine.settings import Settings
from plait.store.paths import project_paths, tighten
from plait.store.sqlite import Store


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "plait-home"))
    old = os.umask(0o022)  # the usual umask: new files 0644, folders 0755
    try:
        yield tmp_path / "plait-home"
    finally:
        os.umask(old)


def store_files(db: Path) -> list[Path]:
    return [db, Path(f"{db}-wal"), Path(f"{db}-shm")]


def test_a_new_project_is_private(home: Path, tmp_path: Path) -> None:
    project = create_project("demo", Settings(repo=str(tmp_path)))
    project.store.set_meta("written", "1")  # the WAL and SHM files exist after a write
    paths = project.paths
    # The scratch folder (CI and merge checkouts) was made 0755 when first used.
    folders = [home, home / "projects", paths.root, paths.worktrees, paths.scratch]
    assert {str(p): mode(p) for p in folders} == {str(p): 0o700 for p in folders}
    files = store_files(paths.db)
    assert {str(p): mode(p) for p in files} == {str(p): 0o600 for p in files}
    project.close()


def test_a_home_made_world_readable_is_tightened_when_a_project_opens(
    home: Path, tmp_path: Path
) -> None:
    paths = project_paths("old")
    paths.worktrees.mkdir(parents=True)  # as an older plait made it: 0755
    store = Store(paths.db)
    store.set_meta("settings", Settings(repo=str(tmp_path)).to_json())
    for path in [home, home / "projects", paths.root, paths.worktrees]:
        path.chmod(0o755)
    for path in store_files(paths.db):
        path.chmod(0o644)
    store.close()
    project = open_project("old")
    folders = [home, home / "projects", paths.root, paths.worktrees]
    assert {str(p): mode(p) for p in folders} == {str(p): 0o700 for p in folders}
    project.store.set_meta("written", "1")
    files = store_files(paths.db)
    assert {str(p): mode(p) for p in files} == {str(p): 0o600 for p in files}
    project.close()


def test_a_store_alone_creates_its_files_private(home: Path, tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.set_meta("k", "v")
    assert [mode(p) for p in store_files(tmp_path / "s.db")] == [0o600, 0o600, 0o600]
    store.close()


@pytest.mark.parametrize(("before", "after"), [(0o644, 0o600), (0o400, 0o400), (0o666, 0o600)])
def test_tightening_only_takes_permissions_away(tmp_path: Path, before: int, after: int) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    path.chmod(before)
    tighten(path, 0o600)
    assert mode(path) == after


def test_the_engine_lock_is_private_too(home: Path, tmp_path: Path) -> None:
    from plait.errors import ProjectError
    from plait.pidlock import pid_lock

    lock = tmp_path / "engine.lock"
    with pid_lock(lock, busy=lambda pid: ProjectError(pid)):
        assert mode(lock) == 0o600  # it was 0644 under the usual umask
        assert lock.read_text() == str(os.getpid())
    with pid_lock(lock, busy=lambda pid: ProjectError(pid)):  # taken again: one pid, no append
        assert lock.read_text() == str(os.getpid())
