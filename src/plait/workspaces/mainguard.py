"""Agents never touch main: the check after every agent turn, and the repair.

How this works. Before a turn plait notes main's tip in the shared repository; after it,
`check_main` looks again. A main that did not move, or moved forward by commits that are
not the agent's, is fine: plait's own landings (squash commits with `Plait-` trailers)
and a person's commits move it while agents work. Two moves are the agent's:

- main no longer holds the tip it had (reset, rewritten, deleted): nobody but an agent
  working at that moment does that during a run;
- main gained commits that are in the agent's branch (it moved main to its work, pushed
  its branch into main, or committed on main in its worktree) and are not plait's;
- main gained commits the agent's own git made elsewhere (in the user's checkout, say):
  its environment has git mark them in main's reflog (`agent_reflog_env`).

Either way main goes back, by compare-and-swap, to the last tip plait or a person gave it
(`before`, or the newest commit on top of it that is not the agent's), and the turn is
reported as a `forbidden` failure that stops the task with the reason. When a landing was
made on top of the agent's commits meanwhile (a merge's compare-and-swap saw the moved
main), going back would drop it: a commit on top reverts the agent's change instead.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from plait.workspaces.git import commit_env, git
from plait.workspaces.inspect import (
    is_ancestor,
    is_dirty,
    watched_branch_sha,
    worktree_of_branch,
)

FORBIDDEN = "forbidden"  # the failure class of a turn that broke one of plait's rules
_MARK = "plait-agent"  # how main's reflog names what an agent's git did


def agent_reflog_env(task: str) -> dict[str, str]:
    """For an agent's environment: git names its commits, merges, resets and rebases
    `plait-agent <task>` in the reflog, so a commit the agent made on main from another
    checkout (the user's) is told from a person's."""
    return {"GIT_REFLOG_ACTION": f"{_MARK} {task}"}


async def main_tip(repo: str, main: str) -> str:
    """main's tip now ("" when it does not exist); git is asked only when main's ref
    files changed since it last was (`inspect.watched_branch_sha`)."""
    return await watched_branch_sha(repo, main) or ""


async def check_main(*, repo: str, main: str, before: str, worktree: str, head: str = "") -> str:
    """ "" when the turn left main alone; else what the agent did, after main was put back.
    `head`: the worktree's HEAD when the caller knows it (else it is asked for)."""
    if not before:
        return ""
    now = await main_tip(repo, main)
    if now == before:
        return ""
    gained = await _gained(repo, before, now) if now else None
    if gained is None:
        what = "deleted" if not now else f"moved it from {before[:12]} to {now[:12]}"
        keep = await _newest_good_tip(repo, main, before, set()) if now else before
        await _put_back(repo, main, keep, now)
        return f"the agent touched {main} ({what}); plait put {main} back at {keep[:12]}"
    if not head:
        head = (await git("rev-parse", "HEAD", cwd=worktree, check=False)).out.strip()
    theirs = await _agents_commits(repo, gained, head)
    theirs |= await _marked_commits(repo, main, before, os.path.basename(worktree))
    if not theirs:
        return ""
    said = f"the agent put {len(theirs)} commit(s) of its own on {main} ({now[:12]})"
    chain = (await git(
        "rev-list", "--first-parent", "--reverse", f"{before}..{now}", cwd=repo, check=False
    )).out.split()  # fmt: skip
    at = [i for i, sha in enumerate(chain) if sha in theirs]
    if not at or at[-1] == len(chain) - 1:
        # Nothing landed on top of them: main goes back to the last tip plait or a person
        # gave it — a landing made during the turn and then overwritten by the agent too.
        keep = await _newest_good_tip(repo, main, before, theirs)
        if keep == before:
            keep = await _last_good(repo, before, now, theirs)
        await _put_back(repo, main, keep, now)
        return f"{said}; plait put {main} back at {keep[:12]}{await _checkout_note(repo, main)}"
    # A landing (or a person) has built on them since: moving main back would drop that
    # work, so their change is reverted on top instead.
    later = len(chain) - 1 - at[-1]
    if at == list(range(at[0], at[-1] + 1)):
        undone = await _revert(repo, main, now, first=chain[at[0]], last=chain[at[-1]])
        if undone:
            return (
                f"{said}; plait reverted them on {main} ({undone[:12]}), keeping the "
                f"{later} commit(s) landed on top of them"
            )
    return (
        f"{said} and {later} commit(s) landed on top of them; revert them by hand "
        f"(git revert {' '.join(chain[i][:12] for i in reversed(at))})"
    )


async def _revert(repo: str, main: str, now: str, *, first: str, last: str) -> str:
    """A commit on `now` undoing `first`..`last` (the agent's run of commits on main's
    first-parent chain), made in a scratch index and put on main by compare-and-swap; ""
    when it does not apply cleanly or main moved meanwhile."""
    with tempfile.TemporaryDirectory(prefix="plait-mainguard-") as tmp:
        index, patch = f"{tmp}/index", f"{tmp}/undo.patch"
        scratch = {"GIT_INDEX_FILE": index}
        diff = await git("diff", "--binary", last, f"{first}^", cwd=repo, check=False)
        Path(patch).write_text(diff.out)
        steps = [
            await git("read-tree", now, cwd=repo, check=False, env_extra=scratch),
            await git("apply", "--cached", patch, cwd=repo, check=False, env_extra=scratch),
        ]
        if any(step.code for step in steps):
            return ""
        tree = (await git("write-tree", cwd=repo, check=False, env_extra=scratch)).out.strip()
    message = f"plait: revert what an agent put on {main}\n\nPlait-Reverted: {first}..{last}"
    who = await commit_env(repo)
    made = await git(
        "commit-tree", tree, "-p", now, "-m", message, cwd=repo, check=False, env_extra=who
    )
    commit = made.out.strip()
    if made.code or not commit:
        return ""
    moved = await git(
        "update-ref", "-m", f"plait: revert an agent's commits on {main}",
        f"refs/heads/{main}", commit, now, cwd=repo, check=False,
    )  # fmt: skip
    return commit if moved.code == 0 else ""


async def _gained(repo: str, before: str, now: str) -> list[tuple[str, str]] | None:
    """The commits `now` has on top of `before` (sha, message), or None when `now` does
    not hold `before`. One git for both (P3: this runs after every turn while main moves
    under it): `before` is a boundary commit of `before..now` exactly when it is an
    ancestor of `now` — then the last commit of a path down from `now` has it as parent."""
    listed = await git(
        "log", "--boundary", "--format=%m%H%x00%B%x00", f"{before}..{now}", cwd=repo, check=False
    )  # fmt: skip
    if listed.code != 0:
        return None
    fields = listed.out.split("\0")
    gained: list[tuple[str, str]] = []
    held = False
    for marked, body in zip(fields[0::2], fields[1::2], strict=False):
        marked = marked.strip()
        if not marked:
            continue
        if marked[0] == "-":  # a boundary commit: outside the range, parent of one in it
            held = held or marked[1:] == before
        else:
            gained.append((marked[1:], body))
    return gained if held else None


async def _agents_commits(repo: str, gained: list[tuple[str, str]], head: str) -> set[str]:
    """Of the commits new on main, those the agent's branch holds and plait did not make."""
    if not head:
        return set()
    out = set()
    for sha, body in gained:
        if any(line.startswith("Plait-") for line in body.splitlines()):
            continue
        if await is_ancestor(repo, sha, head):
            out.add(sha)
    return out


async def _checkout_note(repo: str, main: str) -> str:
    """What a person must know when main is checked out and, main put back, that checkout
    holds changes (the agent committed there: its files are now staged changes). plait
    never touches a person's checkout; its landings wait until it is clean."""
    checkout = await worktree_of_branch(repo, main)
    if checkout is None or not await is_dirty(checkout.path, untracked=False):
        return ""
    return (
        f"; the checkout of {main} at {checkout.path} still holds the agent's change "
        "(see git status there; git reset --hard drops it)"
    )


async def _marked_commits(repo: str, main: str, before: str, task: str) -> set[str]:
    """Commits main gained since `before` by the agent of `task`'s own git (its reflog
    entries carry the agent's mark; `agent_reflog_env`)."""
    log = await git(
        "reflog", "show", "--format=%H%x00%gs", f"refs/heads/{main}", "--", cwd=repo, check=False
    )  # fmt: skip
    entries = [line.split("\0", 1) for line in log.out.splitlines() if "\0" in line]
    out: set[str] = set()
    mark = f"{_MARK} {task}"
    for i, (sha, subject) in enumerate(entries):
        if sha == before:
            break
        if subject != mark and not subject.startswith(f"{mark}:"):
            continue
        old = entries[i + 1][0] if i + 1 < len(entries) else before
        listed = await git("rev-list", sha, "--not", old, before, "--", cwd=repo, check=False)
        out.update(listed.out.split())
    return out


async def _newest_good_tip(repo: str, main: str, before: str, theirs: set[str]) -> str:
    """The newest tip main's reflog holds that descends from `before` and holds none of
    the agent's commits (`before` when there is none, or no reflog)."""
    log = await git(
        "reflog", "show", "--format=%H", f"refs/heads/{main}", "--", cwd=repo, check=False
    )  # fmt: skip
    for sha in log.out.split():
        if sha == before:
            break
        if sha in theirs or not await is_ancestor(repo, before, sha):
            continue
        if not [t for t in theirs if await is_ancestor(repo, t, sha)]:
            return sha
    return before


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
