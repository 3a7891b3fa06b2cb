"""What the GitHub double's tests share: a client of its API and a clone of its repo.
Each module makes its own `gh` (the double, its login and first files)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from plait.testing.github_double import GitHubDouble
from plait.testing.gitrepo import GitRepo, run_git

OWNER, NAME = "acme", "app"


@pytest.fixture
def api(gh: GitHubDouble) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gh.api_url, headers={"Authorization": "Bearer t0ken"}) as client:
        yield client


@pytest.fixture
def wc(gh: GitHubDouble, tmp_path: Path) -> GitRepo:
    """A clone of the double's repo, pushing through the file:// remote."""
    run_git("clone", "-q", gh.repo_remote_url(OWNER, NAME), str(tmp_path / "wc"), cwd=tmp_path)
    repo = GitRepo(tmp_path / "wc")
    repo.git("config", "user.name", "Dev")
    repo.git("config", "user.email", "dev@plait.invalid")
    return repo
