"""The state the controller keeps: one `TaskState` per task inside a `RunState`.

Everything here is a frozen value. Facts that can be derived (needs-attention, display
status, is-mergeable) are functions in `plait.core.task`, never stored flags.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from plait.core.cooldown import Cooldown
from plait.core.plan import TaskSpec


class Phase(StrEnum):
    WAITING = "waiting"  # not started: dependencies open or no slot yet
    ACTIVE = "active"  # has a workspace; work in progress or PR open
    # Landed, final: merged into main, or (landing "none") finished with its result.
    MERGED = "merged"


class OpKind(StrEnum):
    """Operations a task serves one at a time. Feedback kinds first, in priority order."""

    REBASE = "rebase"
    HUMAN = "human"
    CONFLICT = "conflict"
    CI = "ci"
    REVIEW = "review"
    START = "start"
    # Housekeeping: plait's own forge steps, served when no feedback is queued.
    READY = "ready"
    MERGE = "merge"
    CLEANUP = "cleanup"
    DISCARD = "discard"  # `plait reset --hard`: drop the work, then start over
    # Merge landing (see plait.core.landing): a fix round after a reviewer asked for
    # changes (feedback, an agent turn), the reviewer's own turn, and sync + merge.
    CHANGES = "changes"
    VERDICT = "verdict"
    LAND = "land"
    # A PR's risk and path classes, assessed for each new head (see plait.core.risk_gate).
    RISK = "risk"


FEEDBACK_PRIORITY: tuple[OpKind, ...] = (
    OpKind.REBASE,
    OpKind.HUMAN,
    OpKind.CONFLICT,
    OpKind.CI,
    OpKind.REVIEW,
    OpKind.CHANGES,
)

# Operations that run an agent turn (and so take an agent slot). A reviewer's turn
# (`OpKind.VERDICT`) takes a slot of the reviewer's backend instead: see scheduler.
AGENT_OPS = frozenset(
    {OpKind.START, OpKind.HUMAN, OpKind.CONFLICT, OpKind.CI, OpKind.REVIEW, OpKind.CHANGES}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """Tokens and cost, normalized across backends."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def since(self, mark: Usage) -> Usage:
        """What was added after `mark` (for running totals); never negative."""
        return Usage(
            input_tokens=max(0, self.input_tokens - mark.input_tokens),
            output_tokens=max(0, self.output_tokens - mark.output_tokens),
            cache_read_tokens=max(0, self.cache_read_tokens - mark.cache_read_tokens),
            cache_write_tokens=max(0, self.cache_write_tokens - mark.cache_write_tokens),
            reasoning_tokens=max(0, self.reasoning_tokens - mark.reasoning_tokens),
            cost_usd=max(0.0, round(self.cost_usd - mark.cost_usd, 10)),
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 10),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """A spending limit in tokens and/or dollars. None: not set here (a default applies);
    0: no limit. Reaching it pauses new agent turns; a turn under way always finishes."""

    tokens: int | None = None
    dollars: float | None = None

    def over(self, default: Budget) -> Budget:
        """This budget where it is set, `default` where it is not."""
        return Budget(
            tokens=default.tokens if self.tokens is None else self.tokens,
            dollars=default.dollars if self.dollars is None else self.dollars,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Overlap:
    """Edits of a task's branch that would conflict with another live branch (`task`) or
    with main (`task` ""), as `git merge-tree` finds them: the paths in conflict."""

    task: str = ""
    paths: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewThread:
    """An unresolved review thread (or conversation comment) on a PR."""

    id: str
    body: str
    author: str = ""
    path: str | None = None
    line: int | None = None
    outdated: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class IssueWrite:
    """A write on a GitHub issue a source asked for (see `core.issue_write`): bring the
    issue's `plait:` label and status comment to what they should show ("status"), post a
    scheduled check's report ("report") or open a follow-up issue ("follow-up"). `key`
    names its hidden marker: the writer looks for it before it acts."""

    kind: str  # status | report | follow-up
    repo: str  # owner/name
    number: int  # the issue (a follow-up's: the issue it was split from)
    key: str
    body: str = ""  # the comment's (or the new issue's) text, without the marker
    label: str = ""  # status: the one `plait:` label it should carry ("" for none)
    title: str = ""  # follow-up: the new issue's title
    labels: tuple[str, ...] = ()  # follow-up: its labels


class CIStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class PRView:
    """What the forge says about a task's PR, as of one poll."""

    number: int
    state: str = "open"  # open | merged | closed
    draft: bool = True
    base: str = ""
    head_sha: str = ""
    ci: CIStatus = CIStatus.NONE
    # Failing checks with log excerpts, for the agent; for a green PR, a note when no
    # check ran at all ("no CI configured").
    ci_evidence: str = ""
    mergeable: bool | None = None  # None: unknown yet
    threads: tuple[ReviewThread, ...] = ()
    merge_sha: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Op:
    """One queued or current operation of a task.

    `key` deduplicates: two ops with the same (kind, key) are the same op.
    """

    kind: OpKind
    key: str = ""
    text: str = ""  # human message, CI evidence
    paths: tuple[str, ...] = ()  # conflicting paths
    threads: tuple[ReviewThread, ...] = ()  # review threads to answer
    onto: str = ""  # rebase / conflict target branch
    onto_sha: str = ""  # the commit of `onto` a conflict must be resolved against
    # A person's message that arrived while this op's turn waited to be tried again: the
    # next try carries it (otherwise it would wait behind a turn that keeps failing).
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Counters:
    """Failure counters behind the derived needs-attention. A human message resets them."""

    ci_failures: int = 0
    start_failures: int = 0
    turn_failures: int = 0
    rebase_failures: int = 0
    push_failures: int = 0
    merge_failures: int = 0
    login_failures: int = 0  # the CLI is not logged in or lacks permission: one is enough
    review_failures: int = 0  # reviewer turns that gave no verdict (crash, no answer)
    returns: int = 0  # claims given back to the queue (rejected, stuck, failing)
    risk_failures: int = 0  # risk assessments of a PR head that failed (git, forge)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogEntry:
    """One immutable line of a task's run log: a worker cycle that ended (`kind`
    "cycle") or a reviewer's verdict (`kind` "review"). Appended, never changed."""

    kind: str  # cycle | review
    at: float  # when it ended
    worker: str = ""
    cycle: int = 0  # the worker's n-th cycle
    # cycle: merged, skipped, rejected, stuck, returned, error, interrupted;
    # review: approved, needs_changes
    outcome: str = ""
    started_at: float = 0.0
    agent: str = ""
    model: str = ""
    session_id: str = ""
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    round: int = 0  # review rounds of the cycle (for a review: which round)
    issues: tuple[str, ...] = ()
    reason: str = ""
    claimed: tuple[str, ...] = ()
    returned: tuple[str, ...] = ()
    merge_sha: str = ""


# Without slots: a decided event copies a few `TaskState`s (61 fields) and the state
# around them, and an instance dict is copied in one C call (`plait.core.copying`), about
# five times as fast as setting each slot (P2 in bench/README.md).
@dataclass(frozen=True, kw_only=True)
class TaskState:
    id: str
    phase: Phase = Phase.WAITING
    branch: str = ""
    worktree: str = ""
    base_branch: str = ""  # the branch this task's work is based on (main or a dependency's)
    base_sha: str = ""  # the commit of base_branch the work was last rebased on
    # When the step that read base_sha was decided: every task merged by then is in it.
    based_at: float = 0.0
    stacked_on: str | None = None  # dependency task whose branch we are based on
    session_id: str = ""
    head_sha: str = ""  # last pushed head
    pr: PRView | None = None
    queue: tuple[Op, ...] = ()
    current: Op | None = None
    step: str = ""  # step of `current` being executed
    in_flight: str = ""  # id of the one effect under way for this task, "" if none
    effect_seq: int = 0  # counter behind stable effect ids
    ci_handled: tuple[str, ...] = ()  # head SHAs whose CI failure was already queued
    threads_seen: tuple[str, ...] = ()  # thread ids already queued for the agent
    threads_answered: tuple[str, ...] = ()  # thread ids answered, to resolve after push
    rebase_keys: tuple[str, ...] = ()  # (head, base tip) pairs already rebased for
    counters: Counters = field(default_factory=Counters)
    usage: Usage = field(default_factory=Usage)
    # The running total a backend reported at the end of the last turn of this session
    # (codex counts usage over a whole thread); the next turn adds only what is beyond it.
    session_usage: Usage = field(default_factory=Usage)
    turns: int = 0
    agent_seconds: float = 0.0
    turn_ended_at: float = 0.0  # when its last agent turn ended
    started_at: float = 0.0
    finished_at: float = 0.0
    merge_sha: str = ""
    retry_at: float = 0.0  # do not dispatch before this time
    ready_since: float = 0.0  # when the merge gate last became true (for merge_delay)
    cleaned: bool = False
    last_error: str = ""
    last_reply: str = ""  # the agent's final text of its last turn
    nudged: bool = False  # the current op's turn stalled once; the next turn is a nudge
    # Parked by a person (`plait kill`): nothing new is dispatched until `plait retry`.
    # The reason is what they said; "" when not stopped. (A budget does not stop a task:
    # being over it is derived from usage, see `plait.core.budget`.)
    stopped: str = ""
    # The last agent turn was cut short (killed); the next one resumes its session and is
    # told to continue rather than handed the original prompt again.
    interrupted: bool = False
    exit_code: int | None = None  # the agent process's last exit code (None: none yet)
    # When the mission's restart policy restarted it (the times of the restarts still
    # inside its budget's window).
    restarts: tuple[float, ...] = ()
    # A mission that ended without success, and why (its restart policy gave up). Cleared
    # by retry, reset and a person's message.
    failed: str = ""
    budget: Budget = field(default_factory=Budget)  # set by `plait budget --task`
    # Where its branch would conflict with other live branches or main (the early warning).
    overlaps: tuple[Overlap, ...] = ()
    # ---- merge landing and review (plait.core.landing, plait.core.reviewing) ----------
    verdict: str = ""  # "" (none yet for this work), approved, needs_changes
    verdict_head: str = ""  # the head the verdict judged
    review_rounds: int = 0  # verdicts asking for changes, this attempt
    reviewer_tries: int = 0  # reviewer turns that gave no verdict this round (fallback)
    notes: str = ""  # a reviewer's last issues, handed to the next attempt at the task
    skipped: str = ""  # closed without a change: the agent's reason
    # ---- swarm workers (plait.core.swarm) ----------------------------------------------
    worker: str = ""  # the worker holding the task (its claim), "" if none
    # Related waiting tasks its worker claimed with it, done in the same change; and, on
    # such a rider, the task that carries it.
    riders: tuple[str, ...] = ()
    carried_by: str = ""
    claimed_at: float = 0.0
    claim_usage: Usage = field(default_factory=Usage)  # usage when claimed
    resumes: int = 0  # turns in a row that ended without a completion signal
    log: tuple[LogEntry, ...] = ()
    # ---- risk gate and path classes (plait.core.risk_gate) ------------------------------
    risk: str = ""  # the tier of `risk_head`: low, double-check, human ("" none yet)
    risk_reason: str = ""
    risk_head: str = ""  # the head the assessment judged
    path_classes: tuple[str, ...] = ()  # classes its changed files put it in
    second_verdict: str = ""  # the double-check reviewer's verdict on `second_head`
    second_head: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reviewer:
    agent: str
    model: str = ""
    effort: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewConfig:
    """Who judges a change before it lands, and what happens when they keep refusing."""

    # A fallback chain: the next reviewer takes over when one gives no verdict (crash,
    # limit). Empty: the project's default agent reviews.
    reviewers: tuple[Reviewer, ...] = ()
    rounds: int = 3  # fix rounds after a NEEDS_CHANGES verdict before giving up
    exhausted: str = "queue"  # then: back to the queue with the notes, or "attention"
    prompts: tuple[str, ...] = ()  # prompt files put before the reviewer's instructions
    prs: bool = False  # also judge PR landings (the verdict is posted as a PR review)


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskRules:
    """`[risk]` in plait.toml as the merge gate sees it (read by `plait.plans.risk`): a PR
    touching `human` paths or bigger than the limits is a person's to merge; touching
    `double_check` paths it needs a second reviewer's approval too (`second`, a fallback
    chain; empty: the `[review]` chain's second reviewer, else its first in a new turn)."""

    human: tuple[str, ...] = ()
    double_check: tuple[str, ...] = ()
    max_files: int = 0  # 0: no limit
    max_lines: int = 0
    second: tuple[Reviewer, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerGroup:
    """A group of swarm workers: `count` claims at a time on tasks of `queue`, each run
    by `agent`/`model`. A worker is a slot in the core's state, not a process."""

    name: str
    agent: str = ""  # "" = the project's default agent
    model: str = ""
    effort: str = ""
    prompts: tuple[str, ...] = ()  # prompt files put before each task's prompt
    count: int = 1
    max_cycles: int = 0  # claims each worker makes at most; 0 = no limit
    wait: float = 0.0  # seconds a worker rests between two cycles
    may_plan: bool = False  # its agents may propose follow-up tasks
    max_resumes: int = 5  # turns without completion before one wrap-up nudge
    queue: str = "tasks"  # which tasks it claims (TaskSpec.queue)
    claim: int = 1  # tasks a worker takes in one cycle: ready ones sharing a file ride along


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    project: str
    repo: str
    main_branch: str = "main"
    forge: str = "local"
    agent: str = "script"
    max_concurrency: int = 4
    # Optional caps by task class and by agent backend; absent means only the global cap.
    class_caps: Mapping[str, int] = field(default_factory=dict)
    agent_caps: Mapping[str, int] = field(default_factory=dict)
    # A task class's own agent backend and model (plait.toml [classes.X]), when it names
    # one; a task's own choice wins, the project's default comes last.
    class_agents: Mapping[str, str] = field(default_factory=dict)
    class_models: Mapping[str, str] = field(default_factory=dict)
    ci_failure_cap: int = 3
    failure_cap: int = 3  # start, turn, rebase, push, merge failures
    retry_seconds: float = 2.0
    cooldown_seconds: float = 30.0  # first step of a backend's cool-down ladder
    stacked: bool = True
    merge_delay: float = 0.0  # auto-merge only after the PR sat mergeable this long
    keep_worktrees: bool = False
    branch_prefix: str = "plait"
    # Spending limits from plait.toml / flags: the whole project's, and each task's.
    budget: Budget = field(default_factory=Budget)
    task_budget: Budget = field(default_factory=Budget)
    # What people want to be told about (`plait.core.notices.KINDS`); empty: nothing.
    notify_on: tuple[str, ...] = ()
    # Do not start a task whose declared files overlap those of a task under way.
    hold_overlapping: bool = False
    # Merge landing: how a branch takes main's new commits before it merges (rebase |
    # merge), who reviews, and the swarm's worker groups (plait.toml [review], [swarm]).
    sync: str = "rebase"
    review: ReviewConfig = field(default_factory=ReviewConfig)
    workers: tuple[WorkerGroup, ...] = ()
    tickets_dir: str = "tasks"  # a change touching only files here skips review
    # Seconds an agent slot may wait for the dependents of a task that is landing, when
    # they come first by critical path (see plait.core.holding); 0: never wait.
    hold_for_dependents: float = 60.0
    # A PR is merged only once its head's risk is assessed (None: no [risk] table).
    risk_rules: RiskRules | None = None
    # Classes a task joins by the paths its branch changes ([classes.X] paths).
    class_paths: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Starts whose worktree may be made while every agent slot is busy, so a slot that
    # frees starts its next agent at once instead of idling through git (P3). A start then
    # takes its slot at the agent step, not at the worktree; 0: the worktree takes it.
    prepare_ahead: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerState:
    cycles: int = 0  # claims made so far
    task: str = ""  # the claim held, "" when free
    idle_until: float = 0.0  # rests until then between cycles


@dataclass(frozen=True, slots=True, kw_only=True)
class SwarmState:
    workers: Mapping[str, WorkerState] = field(default_factory=dict)
    # A first Ctrl-C: no new claims; claims whose next step is a worker's turn go back.
    draining: bool = False


@dataclass(frozen=True, kw_only=True)  # without slots, as `TaskState`
class RunState:
    config: RunConfig
    specs: Mapping[str, TaskSpec]
    order: tuple[str, ...]  # plan order
    start_order: tuple[str, ...]  # longest critical path first, then plan order
    tasks: Mapping[str, TaskState]
    title: str = ""
    context: str = ""
    # Plans added to the live project after its start: plan name -> shared context
    # (problem, solution…) given to the agents of that plan's tasks (`TaskSpec.plan`).
    contexts: Mapping[str, str] = field(default_factory=dict)
    cooldowns: Mapping[str, Cooldown] = field(default_factory=dict)  # by agent backend
    # The project's budget as `plait budget` set it (where set, it wins over the config's).
    budget: Budget = field(default_factory=Budget)
    now: float = 0.0
    events: int = 0  # events decided so far
    swarm: SwarmState = field(default_factory=SwarmState)
