"""What the controller asks the shells to do. Each effect has a stable id.

An id is `<task>/<n>/<kind>` where n counts the effects decided for that task, so replaying
the event log yields the same ids and the outside world can deduplicate on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from plait.core.model import Op, ReviewThread


@dataclass(frozen=True, slots=True, kw_only=True)
class Effect:
    id: str
    task: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PrepareWorkspace(Effect):
    branch: str
    base_branch: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """Everything an agent needs for one turn; the agent shell renders the prompt."""

    kind: str  # start | human | conflict | ci | review | nudge | continue
    title: str
    description: str
    branch: str
    base_branch: str
    text: str = ""  # human message / CI evidence
    paths: tuple[str, ...] = ()
    threads: tuple[ReviewThread, ...] = ()
    onto: str = ""
    summary: str = ""  # what was done so far, for a fresh session
    note: str = ""  # a person's message that came while this turn waited for a retry


@dataclass(frozen=True, slots=True, kw_only=True)
class RunAgent(Effect):
    agent: str
    worktree: str
    base_sha: str
    session_id: str
    turn: Turn
    model: str = ""  # the task's own model, if it names one (else the backend's default)


@dataclass(frozen=True, slots=True, kw_only=True)
class Push(Effect):
    branch: str
    worktree: str
    force: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenPR(Effect):
    branch: str
    base: str
    title: str
    body: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkReady(Effect):
    pr: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Retarget(Effect):
    pr: int
    base: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rebase(Effect):
    worktree: str
    branch: str
    onto: str
    upstream: str  # the commit the branch was based on; commits after it are replayed


@dataclass(frozen=True, slots=True, kw_only=True)
class ResolveThreads(Effect):
    pr: int
    thread_ids: tuple[str, ...]
    reply: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Merge(Effect):
    pr: int
    branch: str
    title: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Cleanup(Effect):
    worktree: str
    branch: str
    keep: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Discard(Effect):
    """Throw a task's work away (`plait reset --hard`): close its PR (if any), remove its
    worktree and delete its branch, here and on the forge."""

    worktree: str
    branch: str
    pr: int = 0


EFFECT_TYPES: tuple[type[Effect], ...] = (
    PrepareWorkspace,
    RunAgent,
    Push,
    OpenPR,
    MarkReady,
    Retarget,
    Rebase,
    ResolveThreads,
    Merge,
    Cleanup,
    Discard,
)

__all__ = ["EFFECT_TYPES", "Effect", "Op"]
