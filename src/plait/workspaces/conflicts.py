"""The early conflict warning: where live branches would conflict with each other or with
main, found with `git merge-tree --write-tree` before anyone merges anything.

How this works. `ConflictFinder.find(main, heads)` takes the tip of main and each live
task's head (commit ids) and gives, per task, its `Overlap`s: with main (merge-tree of
the head and main) and with other tasks (merge-tree of two heads), each with the paths in
conflict. Two branches can only conflict in files both changed, so a pair is merged only
when the files each changed since its merge base with main intersect. Every answer is
kept by the commit ids it was computed from, so after one head moves only the merges
that involve it run again; merge-tree writes objects but touches no ref, index or
worktree.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations

from plait.core.model import Overlap
from plait.errors import GitError
from plait.workspaces.git import git


async def merge_conflicts(repo: str, a: str, b: str) -> tuple[str, ...]:
    """The paths where merging commits `a` and `b` conflicts (none: it merges cleanly)."""
    result = await git(
        "merge-tree", "--write-tree", "--name-only", "--no-messages", a, b, cwd=repo, check=False
    )
    if result.code == 0:
        return ()
    if result.code != 1:
        raise GitError(f"git merge-tree {a[:7]} {b[:7]} failed: {result.err.strip()[-300:]}",
                       hint="plait needs git >= 2.38")  # fmt: skip
    lines = result.out.splitlines()[1:]  # the first line is the merged tree's id
    paths: list[str] = []
    for line in lines:
        if not line:
            break
        paths.append(line)
    return tuple(dict.fromkeys(paths))


async def ref_heads(repo: str, refs: list[str]) -> dict[str, str]:
    """The commit each of `refs` (full ref names) points at; missing ones are left out."""
    if not refs:
        return {}
    result = await git("for-each-ref", "--format=%(objectname) %(refname)", *refs, cwd=repo)
    wanted = set(refs)
    heads = {}
    for line in result.out.splitlines():
        sha, _, ref = line.partition(" ")
        if ref in wanted:
            heads[ref] = sha
    return heads


async def changed_paths(repo: str, main: str, head: str) -> frozenset[str]:
    """The files `head` changed since it left `main` (their merge base)."""
    result = await git("diff", "--name-only", "--no-renames", f"{main}...{head}", cwd=repo)
    return frozenset(line for line in result.out.splitlines() if line)


class ConflictFinder:
    def __init__(self, repo: str) -> None:
        self.repo = repo
        self._with_main: dict[tuple[str, str], tuple[str, ...]] = {}
        self._changed: dict[tuple[str, str], frozenset[str]] = {}
        self._pairs: dict[tuple[str, str], tuple[str, ...]] = {}
        self.merges = 0  # merge-tree runs so far (a refresh after no move runs none)

    async def find(self, main: str, heads: Mapping[str, str]) -> dict[str, tuple[Overlap, ...]]:
        """Each task's overlaps, for the tasks of `heads` (task → head commit)."""
        with_main: dict[tuple[str, str], tuple[str, ...]] = {}
        changed: dict[tuple[str, str], frozenset[str]] = {}
        pairs: dict[tuple[str, str], tuple[str, ...]] = {}
        found: dict[str, list[Overlap]] = {task: [] for task in heads}
        for task, head in heads.items():
            key = (main, head)
            with_main[key] = await self._cached(self._with_main, key, main, head)
            if key in self._changed:
                changed[key] = self._changed[key]
            else:
                changed[key] = await changed_paths(self.repo, main, head)
            if with_main[key]:
                found[task].append(Overlap(paths=with_main[key]))
        for a, b in combinations(sorted(heads), 2):
            ha, hb = heads[a], heads[b]
            if ha == hb or not changed[(main, ha)] & changed[(main, hb)]:
                continue
            key = (ha, hb) if ha < hb else (hb, ha)
            pairs[key] = await self._cached(self._pairs, key, *key)
            if pairs[key]:
                found[a].append(Overlap(task=b, paths=pairs[key]))
                found[b].append(Overlap(task=a, paths=pairs[key]))
        # Keep only what this refresh used: the cache follows the live branches.
        self._with_main, self._changed, self._pairs = with_main, changed, pairs
        return {
            task: tuple(sorted(o, key=lambda x: (x.task, x.paths))) for task, o in found.items()
        }

    async def _cached(
        self, cache: dict[tuple[str, str], tuple[str, ...]], key: tuple[str, str], a: str, b: str
    ) -> tuple[str, ...]:
        if key in cache:
            return cache[key]
        self.merges += 1
        return await merge_conflicts(self.repo, a, b)
