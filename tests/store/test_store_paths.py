"""Where projects live, and which names a project may have."""

from __future__ import annotations

import pytest

from plait.errors import ProjectError
from plait.store.paths import check_project_name


@pytest.mark.parametrize("bad", ["x.lock", "a.", "a..b", "-a", "A", "a/b", "", "x" * 65])
def test_a_name_that_cannot_be_a_folder_and_a_branch_part_is_refused(bad: str) -> None:
    with pytest.raises(ProjectError, match="invalid project name"):
        check_project_name(bad)


@pytest.mark.parametrize("good", ["demo", "session-auth", "v1.2", "a_b", "x" * 64])
def test_ordinary_names_pass(good: str) -> None:
    assert check_project_name(good) == good
