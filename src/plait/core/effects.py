"""What the controller asks the shells to do. Each effect has a stable id.

An id is `<task>/<n>/<kind>` where n counts the effects decided for that task, so replaying
the event log yields the same ids and the outside world can deduplicate on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from plait.core.model import IssueWrite, Op, ReviewThread, RiskRules


@dataclass(frozen=True, slots=True, kw_only=True)
class Effect:
    id: str
    task: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PrepareWorkspace(Effect):
    branch: str
    base_branch: str
    cwd: str = ""  # a mission that works in this directory as it is: no worktree, no git


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
    template: str = ""  # the start prompt's template when not the kind's ("mission", "lead")
    in_place: bool = False  # the agent works in a directory plait does not own (no branch)


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    """How to start a mission's agent process, beyond what every task's turn needs."""

    name: str = ""  # the mission's readable name (PLAIT_TASK_NAME)
    parent: str = ""  # the mission that started it (PLAIT_PARENT_ID)
    in_place: bool = False  # in a directory plait does not own: no git before or after
    idle_timeout: float = 0.0  # silence longer than this stops it (0: the project's)
    allowed_tools: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()  # services to hand a port each
    command: tuple[str, ...] = ()  # run this program instead of an agent CLI


@dataclass(frozen=True, slots=True, kw_only=True)
class RunAgent(Effect):
    agent: str
    worktree: str
    base_sha: str
    session_id: str
    turn: Turn
    model: str = ""  # the task's own model, if it names one (else the backend's default)
    launch: Launch | None = None  # set for missions and tasks that ask for ports, tools…
    effort: str = ""  # reasoning effort, for backends that take one
    prompts: tuple[str, ...] = ()  # prompt files put before the turn's prompt (a worker's)
    # Merge landing: the tickets folder (is the change only ticket files?) and whether
    # tasks the agent proposes in its final answer are taken.
    tickets: str = ""
    proposals: bool = False


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
    by_merge: bool = False  # merge `onto` into the branch instead of rebasing


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
class RunReviewer(Effect):
    """A reviewer agent judges the change on a task's branch: the task, its acceptance
    criteria and the diff `base_sha..head_sha` in, a verdict out (`Reviewed`)."""

    agent: str
    worktree: str
    base_sha: str
    head_sha: str
    title: str
    description: str = ""
    acceptance: tuple[str, ...] = ()
    round: int = 1
    feedback: tuple[str, ...] = ()  # the previous round's issues, to check they are fixed
    reply: str = ""  # the worker's last answer
    model: str = ""
    effort: str = ""
    prompts: tuple[str, ...] = ()
    pr: int = 0  # a PR landing: post the verdict on it as a review


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeToMain(Effect):
    """Land an approved, synced branch on main as one commit, under the repository's
    merge lock, exactly once (a `Plait-Task` trailer marks it; see workspaces.landing)."""

    branch: str
    worktree: str
    main: str
    title: str
    since: float = 0.0  # the task's start: a landed commit is searched for after it
    verify: bool = True  # run the CI command (if any) before moving main


@dataclass(frozen=True, slots=True, kw_only=True)
class AssessRisk(Effect):
    """Classify the change on a task's branch, `head_sha` since it left `base_sha` (the
    files its PR shows): its risk tier under `rules` (a `plait:risk-<tier>` label on PR
    `pr`, looked for first) and the path classes its files put it in. Reads git and
    labels, so it is safe to run again (`RiskAssessed`)."""

    worktree: str
    base_sha: str
    head_sha: str
    pr: int = 0
    rules: RiskRules | None = None
    classes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Notify(Effect):
    """Tell a person (desktop, webhook, the TUI's bell) that something wants them. `task`
    is "" for the whole project. Its id is derived from the decision that noticed it
    (`plait.core.notices`), so a replay or a resend after a crash carries the same id and
    receivers can drop a duplicate. It never holds up its task's own effects."""

    kind: str  # attention | ready | budget | idle
    title: str
    text: str
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteIssue(Effect):
    """Perform a write on a GitHub issue, once (its marker is looked for first). `task`
    is the issue's lane (`issue:<owner/name>#<N>`), not a task of the project: one
    issue's writes run in order, beside its task's work. The issue source performs it."""

    write: IssueWrite


# Effects a source of the project performs (it registers with the engine); until it has,
# they wait in the outbox.
PERFORMED_BY_SOURCES: tuple[type[Effect], ...] = (WriteIssue,)

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
    Notify,
    RunReviewer,
    MergeToMain,
    WriteIssue,
    AssessRisk,
)

__all__ = ["EFFECT_TYPES", "Effect", "Op"]
