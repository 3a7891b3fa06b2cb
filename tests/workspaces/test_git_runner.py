"""The git runner: scrubbed environment, errors that say what failed, version checks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from plait.errors import GitError
from plait.testing.gitrepo import GitRepo, isolated_home_env
from plait.workspaces.git import (
    SUBJECT_MAX,
    check_git,
    check_git_sync,
    commit_message,
    commit_subject,
    git,
    git_env,
    git_sync,
    parse_version,
    side_by_side,
)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    for key, value in isolated_home_env(tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    return GitRepo.init(tmp_path / "repo")


def test_git_env_drops_git_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GIT_INDEX_FILE", "/elsewhere/index")
    env = git_env({"GIT_AUTHOR_NAME": "someone"})
    assert "GIT_DIR" not in env
    assert "GIT_INDEX_FILE" not in env
    assert env["GIT_AUTHOR_NAME"] == "someone"
    assert env["GIT_TERMINAL_PROMPT"] == "0"


def test_git_runs_in_cwd_despite_hostile_env(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = GitRepo.init(tmp_path / "other")
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    result = asyncio.run(git("rev-parse", "HEAD", cwd=str(repo.path)))
    assert result.code == 0
    assert result.out.strip() == repo.rev("HEAD")
    assert git_sync("rev-parse", "HEAD", cwd=str(repo.path)).out.strip() == repo.rev("HEAD")


def test_git_failure_names_command_code_and_stderr(repo: GitRepo) -> None:
    with pytest.raises(GitError) as info:
        asyncio.run(git("rev-parse", "--verify", "no-such-ref", cwd=str(repo.path)))
    err = info.value
    assert "git rev-parse --verify no-such-ref" in err.message
    assert "exit 128" in err.message
    assert "Needed a single revision" in err.message
    assert err.hint
    unchecked = asyncio.run(git("rev-parse", "--verify", "nope", cwd=str(repo.path), check=False))
    assert unchecked.code == 128
    with pytest.raises(GitError, match="exit 128"):
        git_sync("rev-parse", "--verify", "no-such-ref", cwd=str(repo.path))


def test_missing_cwd_is_a_git_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="does not exist"):
        asyncio.run(git("status", cwd=str(tmp_path / "missing")))


def test_git_version_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    version = asyncio.run(check_git())
    assert parse_version(version) >= (2, 38)
    assert check_git_sync() == version
    assert parse_version("2.40.0.windows.1") == (2, 40)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GitError, match="git not found"):
        asyncio.run(check_git())
    with pytest.raises(GitError, match="git not found"):
        check_git_sync()


def test_too_old_git_is_refused() -> None:
    from plait.workspaces.git import _check_version

    with pytest.raises(GitError, match=r"too old — install git >= 2\.38"):
        _check_version("git version 2.37.1")
    assert _check_version("git version 2.39.5\n") == "2.39.5"


LONG_TITLE = (
    "Migrate every handler from the ad-hoc cookie checks to the one session dependency, "
    "with its tests and the audit trail"
)


def test_a_commit_subject_is_cut_at_a_word_to_72_characters() -> None:
    subject = commit_subject(LONG_TITLE)
    assert len(subject) <= SUBJECT_MAX
    assert subject.endswith("…")
    assert LONG_TITLE.startswith(subject.removesuffix("…"))
    assert LONG_TITLE[len(subject) - 1] == " "  # the cut falls between words
    with_number = commit_subject(LONG_TITLE, suffix=" (#123)")
    assert len(with_number) <= SUBJECT_MAX
    assert with_number.endswith("… (#123)")


def test_a_short_subject_keeps_its_words_on_one_line() -> None:
    assert commit_subject("  Add   the\tparser ") == "Add the parser"
    assert commit_subject("x" * 100).endswith("x…")  # no space to cut at: cut the word
    assert len(commit_subject("x" * 100)) == SUBJECT_MAX


def test_a_cut_subject_is_kept_whole_in_the_body() -> None:
    message = commit_message(f"{LONG_TITLE}\n\nChanges the agent left uncommitted.")
    subject, blank, whole, blank2, rest = message.split("\n")
    assert len(subject) <= SUBJECT_MAX
    assert (blank, whole, blank2, rest) == (
        "",
        LONG_TITLE,
        "",
        "Changes the agent left uncommitted.",
    )
    assert commit_message("Short\n\nbody") == "Short\n\nbody"


def test_side_by_side_waits_for_the_other_step_when_one_fails() -> None:
    finished: list[str] = []

    async def slow() -> str:
        await asyncio.sleep(0.2)
        finished.append("slow")
        return "slow"

    async def fails() -> str:
        raise GitError("no", hint="none")

    async def scenario() -> None:
        assert await side_by_side(slow(), asyncio.sleep(0, "quick")) == ("slow", "quick")
        finished.clear()
        with pytest.raises(GitError):
            await side_by_side(fails(), slow())
        assert finished == ["slow"]  # the other step had ended before the failure was raised

    asyncio.run(scenario())
