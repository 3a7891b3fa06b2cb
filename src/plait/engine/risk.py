"""Running `AssessRisk`: the files a task's branch changes, classified by `[risk]` and by
the path classes, and the tier shown on the PR as a label (see `plait.core.risk_gate`).

The files are read from git (`git diff --numstat base...head` in the task's worktree: the
same files the PR shows, and no rate-limit point); the label is written only where the
forge has labels, and looked for before it is added, so running it again after a crash
changes nothing.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence

from plait.core import effects as fx
from plait.core import events as ev
from plait.forges.base import Forge, Labels
from plait.plans.risk import PREFIX, classify, is_risk_label
from plait.workspaces.git import git
from plait.workspaces.names import check_rev


async def changed_files(worktree: str, base_sha: str, head_sha: str) -> list[tuple[str, int]]:
    """(path, lines changed) for each file the branch changes since it left `base_sha`
    (a binary file: 0 lines)."""
    await check_rev(base_sha)
    await check_rev(head_sha)
    # Three dots: against the merge base, as the PR shows it, even when main moved on.
    span = f"{base_sha}...{head_sha}"
    out = await git("diff", "--numstat", "-z", "--no-renames", span, cwd=worktree)
    files: list[tuple[str, int]] = []
    for record in out.out.split("\0"):
        added, _, rest = record.partition("\t")
        deleted, _, path = rest.partition("\t")
        if path:
            lines = int(added) + int(deleted) if added.isdigit() and deleted.isdigit() else 0
            files.append((path, lines))
    return files


def path_classes(paths: Sequence[str], classes: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The classes (in their configured order) a path of the change matches."""
    return tuple(
        name
        for name, globs in classes.items()
        if any(fnmatch.fnmatchcase(p, g) for p in paths for g in globs)
    )


async def assess(forge: Forge, effect: fx.AssessRisk, clock: Callable[[], float]) -> ev.Event:
    files = await changed_files(effect.worktree, effect.base_sha, effect.head_sha)
    tier, reason = "", ""
    if effect.rules is not None:
        found = classify(files, effect.rules)
        tier, reason = found.tier, found.reason
        if effect.pr and isinstance(forge, Labels):
            await forge.replace_label(effect.pr, f"{PREFIX}{tier}", is_risk_label)
    return ev.RiskAssessed(
        at=clock(),
        effect_id=effect.id,
        task=effect.task,
        head_sha=effect.head_sha,
        tier=tier,
        reason=reason,
        classes=path_classes([p for p, _ in files], effect.classes),
    )
