"""Token lookup order and owner/repo from remote URLs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from plait.errors import ForgeError
from plait.forges.github.token import RepoId, infer_repo, parse_remote, resolve_token
from plait.testing.gitrepo import GitRepo


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/widgets.git",
        "https://github.com/acme/widgets",
        "git@github.com:acme/widgets.git",
        "ssh://git@github.com/acme/widgets.git",
        "file:///srv/double/acme/widgets.git",
        "/srv/double/acme/widgets.git",
    ],
)
def test_remote_forms_name_owner_and_repo(url: str) -> None:
    assert parse_remote(url) == RepoId("acme", "widgets")


def test_remote_without_owner_is_an_error_with_a_hint() -> None:
    with pytest.raises(ForgeError) as info:
        parse_remote("widgets")
    assert "OWNER/REPO" in info.value.hint


def test_explicit_token_wins() -> None:
    assert resolve_token("tok-a", {"GITHUB_TOKEN": "tok-b"}).reveal() == "tok-a"


def test_github_token_from_the_environment() -> None:
    assert resolve_token(None, {"GITHUB_TOKEN": "tok-b", "GH_TOKEN": "c"}).reveal() == "tok-b"


def test_no_token_anywhere_is_a_forge_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")  # no `gh` to ask
    with pytest.raises(ForgeError, match="no GitHub token"):
        resolve_token(None, {})


def test_gh_auth_token_is_asked_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gh = tmp_path / "gh"
    gh.write_text("#!/bin/sh\n[ \"$1 $2\" = 'auth token' ] && echo tok-from-gh\n")
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + os.environ.get("PATH", ""))
    assert resolve_token(None, {}).reveal() == "tok-from-gh"


def test_repo_is_inferred_from_origin(tmp_path: Path) -> None:
    repo = GitRepo.init(tmp_path / "clone", files={"a": "1\n"})
    repo.git("remote", "add", "origin", "https://github.com/acme/widgets.git")
    assert infer_repo(str(repo.path)) == RepoId("acme", "widgets")
