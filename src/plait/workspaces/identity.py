"""Whether a repository names a committer, asked of git once while its config stays put.

Every new worktree asks (`GitWorkspaces._ensure_identity`): with no identity configured,
plait gives the worktree its fallback one. A new worktree sees the configuration the
main checkout sees (the system, user and repository files; `git worktree add` copies the
main checkout's `config.worktree`), so the answer is the repository's, and it holds while
those files hold the same bytes. Files with `include` or `includeIf` are not followed
here: a configuration that has one is asked of git every time (P3).
"""

from __future__ import annotations

import os

from plait.workspaces.git import has_identity
from plait.workspaces.inspect import common_dir, file_bytes

# common dir -> the config files' contents when git was asked, and its answer.
_KNOWN: dict[str, tuple[tuple[bytes | None, ...], bool]] = {}


def _config_files(common: str) -> tuple[str, ...]:
    home = os.environ.get("HOME", "")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return (
        "/etc/gitconfig",
        os.path.join(home, ".gitconfig"),
        os.path.join(xdg, "git", "config"),
        os.path.join(common, "config"),
        os.path.join(common, "config.worktree"),
    )


async def repo_has_identity(repo: str) -> bool:
    """`has_identity(repo)`, from memory while the config files it read are unchanged."""
    common = await common_dir(repo)
    contents = tuple(file_bytes(path) for path in _config_files(common))
    if any(b"include" in c.lower() for c in contents if c):
        return await has_identity(repo)
    known = _KNOWN.get(common)
    if known is not None and known[0] == contents:
        return known[1]
    answer = await has_identity(repo)  # read first: a change meanwhile asks again next time
    _KNOWN[common] = (contents, answer)
    return answer
