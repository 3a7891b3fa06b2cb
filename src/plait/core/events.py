"""Everything that can happen to a run, as frozen values. Time arrives inside events.

Results of effects name the effect they answer (`effect_id`); the controller accepts a
result only while that effect is the task's one effect in flight, so a duplicate or late
result (after a crash and a re-run) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plait.core.model import IssueWrite, Overlap, PRView, RunConfig, Usage
from plait.core.plan import TaskSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    config: RunConfig
    tasks: tuple[TaskSpec, ...]
    title: str = ""
    context: str = ""  # the plan's shared sections (problem, solution…), given to agents


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick(Event):
    """The clock moved; lets retries and delays fire."""

    # The agent turns a restart carries on (their effect ids, left pending by the engine
    # before): the core ignores them; the narration says those turns go on.
    carried: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectResult(Event):
    effect_id: str
    task: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepDone(EffectResult):
    """A step with nothing to report (ready, retarget, resolve threads, cleanup)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailed(EffectResult):
    """A step that failed; `retryable` says whether trying again later can help. `held`:
    something outside the task holds the step (the user's main checkout has uncommitted
    changes, which plait never touches): it is tried again later without counting as the
    task's failure, and `plait ps` says why it waits."""

    error: str
    retryable: bool = True
    held: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkspaceReady(EffectResult):
    path: str
    base_sha: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentFinished(EffectResult):
    ok: bool
    session_id: str = ""
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    reply: str = ""  # final text
    error: str = ""
    failure: str = ""  # failure class when not ok: crash, session, rate_limit, killed...
    commits_ahead: int = 0  # commits on the branch beyond its base after the turn
    head_sha: str = ""
    reset_at: float | None = None  # when a rate/usage limit lifts, if the CLI said
    usage_cumulative: bool = False  # usage is the session's running total (codex threads)
    # Earlier attempts at this turn, cut off by a crash of the engine and continued by
    # this one: counted in the task's totals, which would otherwise leave them out.
    interrupted_turns: int = 0
    interrupted_usage: Usage = field(default_factory=Usage)
    interrupted_seconds: float = 0.0
    exit_code: int | None = None  # the agent process's exit code (None: it never started)
    # False when the turn never reached its agent (it could not be handed out or set up):
    # a failure like any other, but not a turn the task took.
    started: bool = True
    # What the agent signalled in its final answer (read by the shell, see
    # plait.review.signals): "nothing to do" with its reason, follow-up tasks it proposed.
    nothing_to_do: str = ""
    proposed: tuple[TaskSpec, ...] = ()
    # Every file the branch changes (against its base) is a ticket file: no review needed.
    tickets_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Pushed(EffectResult):
    head_sha: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PROpened(EffectResult):
    number: int
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rebased(EffectResult):
    head_sha: str
    base_sha: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RebaseConflict(EffectResult):
    paths: tuple[str, ...]
    onto_sha: str
    # Both sides' logs and the diff stat, for the agent that resolves it (merge landing).
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Merged(EffectResult):
    sha: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reviewed(EffectResult):
    """A reviewer's turn ended. `ok` with a verdict (parsed by the shell: anything but a
    clear APPROVED counts as needs-changes, with the reason), or not ok (no answer)."""

    ok: bool
    approved: bool = False
    issues: tuple[str, ...] = ()  # numbered issues, in order
    reason: str = ""  # why an unclear answer counted as needs-changes
    agent: str = ""
    model: str = ""
    session_id: str = ""
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    failure: str = ""
    error: str = ""
    reset_at: float | None = None
    # A PR landing's verdict posted on the forge comes back by its poll as feedback (a
    # change request and its threads). False when the forge could not post it so (a
    # GitHub PR's own author cannot request changes): the worker hears it from the core.
    comes_back: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeRefused(EffectResult):
    """A merge into main did not happen: main moved on (`behind`), the change no longer
    merges cleanly (`conflict`), or the CI command failed on it (`ci`)."""

    why: str
    evidence: str = ""
    main_sha: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PRChanged(Event):
    """The forge reports a new view of a task's PR (from a poll)."""

    task: str
    pr: PRView


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskAdopted(Event):
    """An existing PR becomes a task (`plait adopt`): plait keeps it green from now on."""

    spec: TaskSpec
    pr: int
    branch: str
    base: str
    head_sha: str
    draft: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LandingRouted(Event):
    """REPLAY-ONLY (see `LEGACY_EVENTS`): nothing emits it any more. It changed a PR task's
    landing between `pr` (plait merges) and `watch` (plait keeps the PR green, a person
    merges) when a risk rule routed a risky change to a human; the risk tier now holds the
    merge in the core instead (`core.risk_gate`, from `RiskAssessed`). It is kept, with its
    handler, so that logs written before still decode and replay to the same state."""

    task: str
    landing: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskAssessed(EffectResult):
    """The risk of a task's head (`AssessRisk`): its tier ("" without [risk] rules), why,
    and the path classes its changed files put it in."""

    head_sha: str
    tier: str = ""
    reason: str = ""
    classes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class HumanMessage(Event):
    task: str
    text: str
    message_id: str


# ---- the live project: sources add tasks, people command them -------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class TasksAdded(Event):
    """Tasks join the live project (a plan, `plait add`, a queue, an issue…).

    `plan` names the plan they belong to ("" for the project's first plan) and `context`
    is that plan's shared text for agents. Ids must be new and dependencies known (the
    sources validate first); an event that breaks either is ignored as a whole.
    """

    tasks: tuple[TaskSpec, ...]
    plan: str = ""
    context: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskKilled(Event):
    """Stop a task now (`plait kill`): its agent is stopped, its work kept, and nothing
    new is dispatched for it until `TaskRetried`."""

    task: str
    reason: str = "stopped by a person"
    cascade: bool = False  # also every mission it started, and theirs (children first)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRetried(Event):
    """Let a stopped or stuck task go again from where it is (`plait retry`)."""

    task: str
    cascade: bool = False  # also its stopped descendants (a team goes again as a whole)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskReset(Event):
    """Clear a task's failure counters and retry it from its branch (`plait reset`); with
    `hard`, drop its branch, worktree and PR and start over from its base."""

    task: str
    hard: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigChanged(Event):
    """The project's settings changed (plait.toml, flags): caps, delays, defaults."""

    config: RunConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetSet(Event):
    """`plait budget`: set (usually raise) the spending limit of a task, or of the project
    when `task` is "". A value left None keeps what was there; 0 means no limit."""

    task: str = ""
    tokens: int | None = None
    dollars: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NotificationSent(EffectResult):
    """A notification went out to every channel (or gave up after its retries: `error`).
    It changes nothing in the state; committing it closes the notification's outbox row."""

    ok: bool = True
    error: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OverlapsChanged(Event):
    """The early conflict warning: where `task`'s branch now conflicts with other live
    branches or main (`git merge-tree`), replacing what was said before."""

    task: str
    overlaps: tuple[Overlap, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SwarmStarted(Event):
    """An engine starts serving the swarm: draining ends, and claims held by workers that
    no longer exist (a group removed or shrunk) — or, after a stop that did not let the
    claims finish, every claim not yet approved — go back to the queue."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SwarmStopping(Event):
    """A first Ctrl-C: no new claims; turns under way finish, and a claim whose next step
    would be another worker turn goes back to the queue."""


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueWriteAsked(Event):
    """A source asks for a write on a GitHub issue; committed with its `WriteIssue`
    effect before anything is written (see `core.issue_write`)."""

    write: IssueWrite


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueWritten(EffectResult):
    """A `WriteIssue` was performed (or refused for good: `error`); it changes nothing in
    the state, committing it closes the write's outbox row. `number`: the issue opened
    (a follow-up) or the comment written."""

    ok: bool = True
    error: str = ""
    number: int = 0


# Events no code emits any more, kept only so that older event logs decode and replay
# the same: their decoders and handlers stay, nothing new may construct them.
LEGACY_EVENTS: tuple[type[Event], ...] = (LandingRouted,)

EVENT_TYPES: tuple[type[Event], ...] = (
    RunStarted,
    Tick,
    StepDone,
    StepFailed,
    WorkspaceReady,
    AgentFinished,
    Pushed,
    PROpened,
    Rebased,
    RebaseConflict,
    Merged,
    PRChanged,
    HumanMessage,
    TaskAdopted,
    TasksAdded,
    TaskKilled,
    TaskRetried,
    TaskReset,
    ConfigChanged,
    BudgetSet,
    NotificationSent,
    OverlapsChanged,
    Reviewed,
    MergeRefused,
    SwarmStarted,
    SwarmStopping,
    LandingRouted,
    IssueWriteAsked,
    IssueWritten,
    RiskAssessed,
)
