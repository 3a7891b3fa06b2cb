"""Where projects live, and which names a project may have."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.core.plan import slugify
from plait.errors import ProjectError
from plait.store.paths import check_project_name, list_projects, project_paths


@pytest.mark.parametrize("bad", ["x.lock", "a.", "a..b", "-a", "A", "a/b", "", "x" * 65])
def test_a_name_that_cannot_be_a_folder_and_a_branch_part_is_refused(bad: str) -> None:
    with pytest.raises(ProjectError, match="invalid project name"):
        check_project_name(bad)


@pytest.mark.parametrize("good", ["demo", "session-auth", "v1.2", "a_b", "x" * 64, "café", "計画"])
def test_ordinary_names_pass(good: str) -> None:
    assert check_project_name(good) == good


def test_a_project_named_in_another_script_lives_in_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIT_HOME", str(tmp_path / "home"))
    name = slugify("Миграция базы данных")
    paths = project_paths(name)
    paths.root.mkdir(parents=True)
    paths.db.write_bytes(b"")
    assert list_projects() == [name]
    assert paths.root.name == name
