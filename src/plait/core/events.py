"""Everything that can happen to a run, as frozen values. Time arrives inside events.

Results of effects name the effect they answer (`effect_id`); the controller accepts a
result only while that effect is the task's one effect in flight, so a duplicate or late
result (after a crash and a re-run) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from plait.core.model import PRView, RunConfig, Usage
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


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectResult(Event):
    effect_id: str
    task: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepDone(EffectResult):
    """A step with nothing to report (ready, retarget, resolve threads, cleanup)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailed(EffectResult):
    """A step that failed; `retryable` says whether trying again later can help."""

    error: str
    retryable: bool = True


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
    failure: str = ""  # failure class when not ok: crash, session, rate_limit, ...
    commits_ahead: int = 0  # commits on the branch beyond its base after the turn
    head_sha: str = ""
    reset_at: float | None = None  # when a rate/usage limit lifts, if the CLI said
    usage_cumulative: bool = False  # usage is the session's running total (codex threads)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class Merged(EffectResult):
    sha: str


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
class HumanMessage(Event):
    task: str
    text: str
    message_id: str


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
)
