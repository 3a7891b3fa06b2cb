"""Where the GitHub token and the owner/repo come from.

The token is looked up in order: an explicit value (`--token`), `GITHUB_TOKEN`, `GH_TOKEN`,
then `gh auth token` when the GitHub CLI is installed. It is wrapped in `Token`, whose
`repr`/`str` never show the value, so it cannot leak into logs, the store or exceptions.

Owner/repo come from the git remote URL. Understood forms: `https://host/owner/repo(.git)`,
`ssh://git@host/owner/repo(.git)`, `git@host:owner/repo(.git)`, and local remotes
(`file:///srv/git/owner/repo.git` or a plain path) — the GitHub double serves its bare repos
from `<root>/<owner>/<repo>.git`, so for a local remote the last two path components are
the owner and the repo name.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from plait.errors import ForgeError
from plait.workspaces.git import git_sync


class Token:
    """A secret string. Only `reveal()` gives the value; printing it shows `Token(***)`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value.strip()

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Token(***)"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def _gh_token() -> str:
    gh = shutil.which("gh")
    if gh is None:
        return ""
    try:
        proc = subprocess.run(
            [gh, "auth", "token"],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    # Never surface gh's stderr: it is not needed and keeps the code path secret-free.
    return proc.stdout.strip() if proc.returncode == 0 else ""


def resolve_token(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Token:
    """The token to use, from the first source that has one. Raises ForgeError if none."""
    env = os.environ if env is None else env
    for value in (explicit, env.get("GITHUB_TOKEN"), env.get("GH_TOKEN")):
        if value and value.strip():
            return Token(value)
    found = _gh_token()
    if found:
        return Token(found)
    raise ForgeError(
        "no GitHub token found",
        hint="pass --token, set GITHUB_TOKEN, or run `gh auth login`",
    )


@dataclass(frozen=True, slots=True)
class RepoId:
    owner: str
    name: str

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"


_SCP = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>(?!/).+)$")


def parse_remote(url: str) -> RepoId:
    """owner/repo from a remote URL (see the module docstring for the accepted forms)."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # a bracketed host that is no IPv6 address, say
        raise _unreadable(url) from None
    if parts.scheme in ("http", "https", "ssh", "git", "file"):
        path = parts.path
    elif parts.scheme == "" and (m := _SCP.match(url)) and not os.path.isabs(url):
        path = m.group("path")
    else:
        path = url  # a plain local path
    pieces = [p for p in path.rstrip("/").split("/") if p]
    if len(pieces) < 2:
        raise _unreadable(url)
    name = pieces[-1].removesuffix(".git")
    return RepoId(owner=pieces[-2], name=name)


def _unreadable(url: str) -> ForgeError:
    return ForgeError(
        f"cannot tell owner/repo from the remote URL {url!r}",
        hint="use a remote like https://github.com/OWNER/REPO.git, or pass --repo OWNER/REPO",
    )


def remote_url(repo: str, remote: str = "origin") -> str:
    """The URL of `remote` in the repository at `repo`."""
    result = git_sync("remote", "get-url", remote, cwd=repo, check=False)
    if result.code != 0 or not result.out.strip():
        raise ForgeError(
            f"the repository at {repo} has no remote {remote!r}",
            hint=f"add it: git remote add {remote} https://github.com/OWNER/REPO.git",
        )
    return result.out.strip()


def infer_repo(repo: str, remote: str = "origin") -> RepoId:
    return parse_remote(remote_url(repo, remote))
