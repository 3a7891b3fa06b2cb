"""Running git: one async runner (and a sync twin for the CLI) with a scrubbed environment.

Every git command plait runs goes through `git()` / `git_sync()`. The environment is the
process environment minus every `GIT_*` variable, so a caller's `GIT_DIR`, `GIT_INDEX_FILE`
or `GIT_WORK_TREE` (set when plait runs inside a git hook, or in tests) can never redirect
plait's commands at another repository. Only variables plait sets itself on purpose (commit
identity, no terminal prompts, a no-op editor) are added back.

Git hooks are off for every command (`-c core.hooksPath=/dev/null`): plait needs none, and
agents can write into the hooks folder all worktrees share, so a hook would be an agent's
code running in plait's name. The forge token variables are left out of git's environment
too; a push gets the token from a credential helper scoped to it (`forges.github`).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

from plait.errors import GitError

MIN_GIT = (2, 38)  # `git merge-tree --write-tree` arrived in 2.38
_TAIL = 2000
A = TypeVar("A")
B = TypeVar("B")

# The identity plait falls back to for commits it makes when the repo has none configured.
AGENT_NAME = "plait agent"
AGENT_EMAIL = "agent@plait.invalid"


# Subjects longer than this wrap or get cut in `git log --oneline`, forges and mail.
SUBJECT_MAX = 72


def commit_subject(text: str, *, suffix: str = "") -> str:
    """`text` as one commit-subject line of at most 72 characters with `suffix` (e.g.
    " (#12)"): whitespace collapsed, cut at a word with '…' when too long."""
    line = " ".join(text.split())
    room = SUBJECT_MAX - len(suffix)
    if len(line) > room:
        cut = line[: room - 1]
        space = cut.rfind(" ")
        line = (cut[:space] if space > room // 2 else cut).rstrip() + "…"
    return line + suffix


def commit_message(message: str) -> str:
    """`message` with a subject of at most 72 characters; a subject that had to be cut is
    kept whole at the top of the body."""
    first, _, rest = message.strip().partition("\n")
    subject = commit_subject(first)
    if subject == " ".join(first.split()):
        return message.strip()
    return "\n\n".join(part for part in (subject, first.strip(), rest.strip()) if part)


@dataclass(frozen=True, slots=True)
class GitResult:
    code: int
    out: str
    err: str


def agent_identity_env() -> dict[str, str]:
    """Author and committer set to plait's fallback identity."""
    return {
        "GIT_AUTHOR_NAME": AGENT_NAME,
        "GIT_AUTHOR_EMAIL": AGENT_EMAIL,
        "GIT_COMMITTER_NAME": AGENT_NAME,
        "GIT_COMMITTER_EMAIL": AGENT_EMAIL,
    }


# What plait pushes with; git and everything it starts (hooks, helpers, the worktree
# hook's package installs) has no use for them.
FORGE_TOKEN_VARS = frozenset({"PLAIT_FORGE_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"})
# Global options for every command: `/dev/null` is no folder, so git finds no hook in it.
_NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def git_env(env_extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment git runs in: ours minus `GIT_*` and the forge token, plus what
    plait sets explicitly."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GIT_") and k not in FORGE_TOKEN_VARS
    }
    # Never block on a credential prompt or an editor: nobody is at this terminal.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_EDITOR"] = "true"
    env["GIT_SEQUENCE_EDITOR"] = "true"
    if env_extra:
        env.update(env_extra)
    return env


def _tail(text: str, limit: int = _TAIL) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]


def _failure(args: tuple[str, ...], cwd: str, code: int, err: str) -> GitError:
    cmd = " ".join(("git", *args))
    detail = _tail(err) or "(no output)"
    return GitError(
        f"`{cmd}` failed in {cwd} (exit {code}): {detail}",
        hint="look at the repository state there; plait retries steps that can be retried",
    )


def _not_found() -> GitError:
    return GitError("git not found — install git >= 2.38", hint="put git on PATH")


async def git(
    *args: str,
    cwd: str,
    check: bool = True,
    env_extra: Mapping[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
) -> GitResult:
    """Run `git *args` in `cwd`; raise GitError on a non-zero exit unless `check` is off.
    `pass_fds`: file descriptors git inherits (a credential helper's pipe)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "git",
            *_NO_HOOKS,
            *args,
            cwd=cwd,
            env=git_env(env_extra),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            pass_fds=pass_fds,
        )
    except FileNotFoundError as exc:
        if not os.path.isdir(cwd):
            raise GitError(f"directory {cwd} does not exist", hint="check the path") from exc
        raise _not_found() from exc
    try:
        out_b, err_b = await proc.communicate()
    finally:
        # Cancelled mid-command: do not leave a git process holding index.lock.
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    result = GitResult(
        proc.returncode or 0, out_b.decode(errors="replace"), err_b.decode(errors="replace")
    )
    if check and result.code != 0:
        raise _failure(args, cwd, result.code, result.err or result.out)
    return result


async def side_by_side(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """Two independent steps at once. When one fails the other is still waited for (no
    git is left running once its caller has moved on), then the first failure is raised."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    for result in (a, b):
        if isinstance(result, BaseException):
            raise result
    return cast(A, a), cast(B, b)


def git_sync(
    *args: str,
    cwd: str,
    check: bool = True,
    env_extra: Mapping[str, str] | None = None,
) -> GitResult:
    """The blocking twin of `git()`, for CLI commands that run outside an event loop."""
    try:
        proc = subprocess.run(
            ["git", *_NO_HOOKS, *args],
            cwd=cwd,
            env=git_env(env_extra),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError as exc:
        if not os.path.isdir(cwd):
            raise GitError(f"directory {cwd} does not exist", hint="check the path") from exc
        raise _not_found() from exc
    result = GitResult(
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )
    if check and result.code != 0:
        raise _failure(args, cwd, result.code, result.err or result.out)
    return result


def parse_version(text: str) -> tuple[int, int]:
    """(major, minor) from `git version 2.39.5` (also `2.39.5.windows.1`, `2.40.0-rc1`)."""
    m = re.search(r"(\d+)\.(\d+)", text)
    if not m:
        raise GitError(f"cannot read the git version from {text.strip()!r}", hint="reinstall git")
    return int(m.group(1)), int(m.group(2))


def _check_version(out: str) -> str:
    version = out.strip().removeprefix("git version ").strip()
    if parse_version(version) < MIN_GIT:
        raise GitError(
            f"git {version} is too old — install git >= 2.38",
            hint="plait needs `git merge-tree --write-tree`",
        )
    return version


async def check_git() -> str:
    """The installed git version; GitError when git is missing or older than 2.38."""
    result = await git("--version", cwd=os.sep, check=False)
    if result.code != 0:
        raise _not_found()
    return _check_version(result.out)


def check_git_sync() -> str:
    result = git_sync("--version", cwd=os.sep, check=False)
    if result.code != 0:
        raise _not_found()
    return _check_version(result.out)


async def has_identity(cwd: str) -> bool:
    """Whether git config (any level) names a committer, so commits need no fallback."""
    # One git for both keys (P3); the last value of a key wins, as `git config <key>`.
    found = await git(
        "config", "--get-regexp", r"^user\.(name|email)$", cwd=cwd, check=False
    )  # fmt: skip
    values: dict[str, str] = {}
    for line in found.out.splitlines():
        key, _, value = line.partition(" ")
        values[key.lower()] = value
    return bool(values.get("user.name", "").strip()) and bool(values.get("user.email", "").strip())


async def commit_env(cwd: str) -> dict[str, str]:
    """Env for a commit plait makes: the configured identity, else plait's fallback."""
    return {} if await has_identity(cwd) else agent_identity_env()
