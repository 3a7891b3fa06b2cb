"""Agents never push: a task's branch, main and the tags on the forge move by plait alone.

Two layers. First, every agent process gets git configuration (through `GIT_CONFIG_COUNT`,
which outranks every config file) that rewrites the URL of any push to a path that cannot
exist, so `git push` fails at once with a message that says why, whatever remote, URL or
credential helper the agent finds. plait's own git never sees it (`git_env` drops `GIT_*`).

An agent can get around that (unset the variables, pass `-c`, run another git), so,
second, when a forge holds the branches, plait lists the forge's heads and tags before a
turn (`git ls-remote`, which costs no API request) and again after it. What changed during
the turn is the agent's doing when:

- main on the forge no longer holds its tip from before (forced or deleted), or gained
  commits that the agent's branch holds and no other ref on the forge held before the turn;
- the task's own branch moved (plait pushes it between turns, never during one);
- any other head or tag now names a commit only the agent's branch holds (a head equal to
  the shared repository's branch of that name is plait's push for another task: a task
  stacked on it holds its commits).

Each turn lists the forge twice, and the list before a turn is not the previous turn's
list after: between two turns people, other tasks' merges and GitHub itself move refs,
and a change from before the turn would be judged the agent's. (A person pushes to main,
the agent then rebases on it: its branch holds main's new commits, which no ref held in
the old list. That would stop the task as `forbidden` for nothing.) plait cannot know
that nothing moved without looking, and looking is the `ls-remote` it would save.

Such a turn is a `forbidden` failure that stops the task with the reason. Unlike main in
the shared repository (`mainguard`), refs on the forge are not put back: that takes the
forge's credentials, and a person should look at what was published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from plait.workspaces.git import git
from plait.workspaces.inspect import is_ancestor, rev

# Where an agent's push goes instead: under /dev/null, so nothing can be created there.
NO_PUSH_URL = "/dev/null/agents-do-not-push--plait-pushes-the-task-branch/"


def no_push_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` plus git configuration that sends every push nowhere (appended to any
    `GIT_CONFIG_*` entries already there)."""
    out = dict(env)
    try:
        count = max(0, int(out.get("GIT_CONFIG_COUNT", "0") or "0"))
    except ValueError:
        count = 0
    # An empty pushInsteadOf prefix matches every URL, local paths and "." included.
    out[f"GIT_CONFIG_KEY_{count}"] = f"url.{NO_PUSH_URL}.pushInsteadOf"
    out[f"GIT_CONFIG_VALUE_{count}"] = ""
    out["GIT_CONFIG_COUNT"] = str(count + 1)
    return out


@dataclass(frozen=True, slots=True)
class RemoteRefs:
    """The forge's heads and tags at one moment: full ref name -> commit (tags peeled)."""

    refs: Mapping[str, str]


async def remote_refs(repo: str, remote: str) -> RemoteRefs | None:
    """What the forge holds now, or None when it cannot be read (then nothing is judged)."""
    listed = await git("ls-remote", "--heads", "--tags", remote, cwd=repo, check=False)
    if listed.code != 0:
        return None
    refs: dict[str, str] = {}
    for line in listed.out.splitlines():
        sha, _, name = line.partition("\t")
        if name.endswith("^{}"):
            refs[name[:-3]] = sha  # an annotated tag's commit wins over the tag object
        elif name not in refs:
            refs[name] = sha
    return RemoteRefs(refs)


async def check_pushes(
    *, repo: str, remote: str, main: str, before: RemoteRefs, worktree: str
) -> str:
    """ "" when the forge's refs moved only as plait and others move them during the turn,
    else what the agent pushed."""
    after = await remote_refs(repo, remote)
    if after is None:
        return ""
    changed = {
        name
        for name in {*before.refs, *after.refs}
        if before.refs.get(name) != after.refs.get(name)
    }
    if not changed:
        return ""
    head = (await git("rev-parse", "-q", "--verify", "HEAD", cwd=worktree, check=False)).out
    branch = (await git("symbolic-ref", "-q", "--short", "HEAD", cwd=worktree, check=False)).out
    head, own = head.strip(), f"refs/heads/{branch.strip()}" if branch.strip() else ""
    main_ref = f"refs/heads/{main}"
    said: list[str] = []
    if main_ref in changed:
        said += await _main_pushed(repo, remote, main, before, after, head, own)
    if own and own in changed:
        now = after.refs.get(own)
        moved = f"to {now[:12]}" if now else "(deleted it)"
        said.append(f"pushed its branch {own.removeprefix('refs/heads/')} {moved}")
    others = sorted(changed - {main_ref, own})
    for name in others:
        sha = after.refs.get(name, "")
        if not sha or not head or await _plaits_push(repo, name, sha):
            continue
        if await _only_agents(repo, sha, head, before.refs.get(main_ref, "")):
            said.append(f"pushed {name} ({sha[:12]})")
    if not said:
        return ""
    return (
        f"the agent pushed to {remote}: {'; '.join(said)}. The branch is pushed by plait "
        "alone; look at what the forge now shows and put it back by hand"
    )


async def _main_pushed(
    repo: str,
    remote: str,
    main: str,
    before: RemoteRefs,
    after: RemoteRefs,
    head: str,
    own: str,
) -> list[str]:
    main_ref = f"refs/heads/{main}"
    was, now = before.refs.get(main_ref, ""), after.refs.get(main_ref, "")
    if not now:
        return [f"deleted {main}"]
    if not was:
        return []
    # Objects of the forge's main: fetched into plait's own ref, nobody else's business.
    guard_ref = f"refs/plait/pushguard/{main}"
    await git(
        "fetch", "--quiet", "--no-tags", remote, f"+{main_ref}:{guard_ref}", cwd=repo, check=False
    )  # fmt: skip
    if not await is_ancestor(repo, was, now):
        return [f"forced {main} from {was[:12]} to {now[:12]}"]
    if not head:
        return []
    # Commits held by refs the forge had before the turn (the agent's own branch aside:
    # plait pushed it, and its commits on main are the agent's doing) are not the agent's.
    held = [sha for name, sha in before.refs.items() if name != own and sha != was]
    known = [sha for sha in held if await _has(repo, sha)]
    new_on_main = await _rev_list(repo, now, [was, *known])
    agents = set(await _rev_list(repo, head, [was, *known]))
    theirs = [sha for sha in new_on_main if sha in agents]
    if theirs:
        return [f"put {len(theirs)} commit(s) of its own on {main} ({now[:12]})"]
    return []


async def _plaits_push(repo: str, name: str, sha: str) -> bool:
    """A head the forge now has as the shared repository's branch of that name has it: what
    plait pushes for another task (a stacked task's branch holds its parent's commits)."""
    return name.startswith("refs/heads/") and await rev(repo, name) == sha


async def _only_agents(repo: str, sha: str, head: str, main_was: str) -> bool:
    """`sha` is a commit the agent's branch holds and main did not."""
    if not await is_ancestor(repo, sha, head):
        return False
    return not (main_was and await is_ancestor(repo, sha, main_was))


async def _has(repo: str, sha: str) -> bool:
    found = await git("cat-file", "-e", f"{sha}^{{commit}}", cwd=repo, check=False)
    return found.code == 0


async def _rev_list(repo: str, tip: str, exclude: list[str]) -> list[str]:
    listed = await git(
        "rev-list", tip, "--not", *exclude, "--", cwd=repo, check=False
    )  # fmt: skip
    return listed.out.split() if listed.code == 0 else []
