"""The per-repo hook run after plait creates a worktree (e.g. to install dependencies)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from plait.errors import GitError
from plait.workspaces.git import git_env

_TAIL = 2000


def hook_problem(script: str) -> str:
    """What keeps `script` from running as a worktree hook ("" when nothing does)."""
    if not os.path.isfile(script):
        return "does not exist"
    if not os.access(script, os.X_OK):
        return "is not executable"
    return ""


async def run_hook(hook: str, *, task: str, branch: str, worktree: str, timeout: float) -> None:
    """Run `hook` in `worktree` with PLAIT_TASK_ID/PLAIT_BRANCH/PLAIT_WORKTREE_PATH set."""
    problem = hook_problem(hook)
    if problem:
        raise GitError(
            f"worktree hook {hook} {problem}",
            hint=f"create it and `chmod +x {hook}`, or remove the hook setting",
        )
    env = git_env({"PLAIT_TASK_ID": task, "PLAIT_BRANCH": branch, "PLAIT_WORKTREE_PATH": worktree})
    proc = await asyncio.create_subprocess_exec(
        hook,
        cwd=worktree,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a timeout kills its children too
    )
    try:
        async with asyncio.timeout(timeout):  # not wait_for: it can lose a cancellation
            out, _ = await proc.communicate()
    except TimeoutError:
        raise GitError(
            f"worktree hook {hook} timed out after {timeout:g}s for task {task}",
            hint="make the hook faster or raise its timeout",
        ) from None
    finally:
        if proc.returncode is None:
            kill_process_group(proc.pid)
            await proc.wait()
    if proc.returncode != 0:
        tail = out.decode(errors="replace").strip()[-_TAIL:]
        raise GitError(
            f"worktree hook {hook} failed (exit {proc.returncode}) for task {task}: {tail}",
            hint="fix the hook; plait runs it again when it retries the task",
        )


def kill_process_group(pid: int) -> None:
    """SIGKILL a process group started with `start_new_session=True`; gone already is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
