"""Agents never touch main: the check after every agent turn, and the repair.

How this works. Before a turn plait notes main's tip in the shared repository; after it,
`check_main` looks again. A main that did not move, or moved forward by commits that are
not the agent's, is fine: plait's own landings (squash commits with `Plait-` trailers)
and a person's commits move it while agents work. Two moves are the agent's:

- main no longer holds the tip it had (reset, rewritten, deleted): nobody but an agent
  working at that moment does that during a run;
- main gained commits that are in the agent's branch (it moved main to its work, pushed
  its branch into main, or committed on main in its worktree) and are not plait's.

Either way main goes back, by compare-and-swap, to the last tip plait or a person gave it
(`before`, or the newest commit on top of it that is not the agent's), and the turn is
reported as a `forbidden` failure that stops the task with the reason.
"""

from __future__ import annotations

from plait.workspaces.git import git
from plait.workspaces.inspect import branch_sha, is_ancestor

FORBIDDEN = "forbidden"  # the failure class of a turn that broke one of plait's rules


async def main_tip(repo: str, main: str) -> str:
    """main's tip now ("" when it does not exist)."""
    return await branch_sha(repo, main) or ""


async def check_main(*, repo: str, main: str, before: str, worktree: str) -> str:
    """ "" when the turn left main alone; else what the agent did, after main was put back."""
    if not before:
        return ""
    now = await main_tip(repo, main)
    if now == before:
        return ""
    if not now or not await is_ancestor(repo, before, now):
        what = "deleted" if not now else f"moved it from {before[:12]} to {now[:12]}"
        await _put_back(repo, main, before, now)
        return f"the agent touched {main} ({what}); plait put {main} back at {before[:12]}"
    head = (await git("rev-parse", "HEAD", cwd=worktree, check=False)).out.strip()
    theirs = await _agents_commits(repo, before, now, head)
    if not theirs:
        return ""
    keep = await _last_good(repo, before, now, theirs)
    await _put_back(repo, main, keep, now)
    return (
        f"the agent put {len(theirs)} commit(s) of its own on {main} ({now[:12]}); "
        f"plait put {main} back at {keep[:12]}"
    )


async def _agents_commits(repo: str, before: str, now: str, head: str) -> set[str]:
    """Commits new on main that the agent's branch holds and plait did not make."""
    if not head:
        return set()
    listed = await git(
        "log", "--format=%H%x00%B%x00", f"{before}..{now}", f"^{before}", cwd=repo, check=False
    )  # fmt: skip
    fields = listed.out.split("\0")
    out = set()
    for sha, body in zip(fields[0::2], fields[1::2], strict=False):
        sha = sha.strip()
        if not sha or any(line.startswith("Plait-") for line in body.splitlines()):
            continue
        if await is_ancestor(repo, sha, head):
            out.add(sha)
    return out


async def _last_good(repo: str, before: str, now: str, theirs: set[str]) -> str:
    """The newest first-parent commit after `before` reached without passing one of the
    agent's commits (or one holding them)."""
    listed = await git(
        "rev-list", "--first-parent", "--reverse", f"{before}..{now}", cwd=repo, check=False
    )  # fmt: skip
    keep = before
    for sha in listed.out.split():
        if sha in theirs or any([await is_ancestor(repo, t, sha) for t in theirs]):
            break
        keep = sha
    return keep


async def _put_back(repo: str, main: str, to: str, now: str) -> None:
    """Move main back to `to` unless it moved again meanwhile (then it is left for the next
    check: a landing's compare-and-swap and this one never overwrite each other)."""
    await git(
        "update-ref", "-m", f"plait: put {main} back (an agent moved it)",
        f"refs/heads/{main}", to, now or "0" * 40, cwd=repo, check=False,
    )  # fmt: skip
