"""What travels through Temporal between the controller and the workers, and the names.

Plain dataclasses of JSON values (Temporal's default converter writes them as JSON), so a
payload reads well in Temporal's UI and the workflow sandbox needs nothing of plait's own
types. `plait.core.codec` turns the core's values (a turn, a usage) into JSON and back on
either side.

Queues. Every worker serves the workflow tasks of the base queue (`plait`), and takes
agent turns from one activity queue named by the agents it has: `plait@claude,codex`.
Workers with the same agents share that queue, and Temporal hands each turn to one of
them that has a free slot; the controller picks, per turn, the queues whose workers have
the turn's agent (see `routing`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WORKFLOW = "plait.AgentTurn"
ACTIVITY = "plait.agent_turn"
TRANSCRIPT_SIGNAL = "transcript"
WORKER_STOPPED = "WorkerStopped"  # the activity error of a turn whose worker shuts down
START_REFS = "refs/plait/start"  # <ref>/<effect id>: the commit a turn starts from
DONE_REFS = "refs/plait/done"  # <ref>/<effect id>/<attempt>: where a turn's work is pushed

Json = dict[str, Any]


@dataclass
class TurnJob:
    """One agent turn, as the controller hands it to a worker."""

    project: str
    project_uid: str  # projects of two controllers may share a name, never this
    effect_id: str
    task: str
    agent: str
    turn: Json  # the core's `Turn`, encoded
    session_id: str
    model: str
    branch: str
    remote: str  # the git URL workers fetch the start commit from and push results to
    start_sha: str
    base_sha: str  # commits after it are the task's own (counted for the result)
    queues: list[str]  # the activity queues to try, best first
    options: dict[str, Any] = field(default_factory=dict)  # the backend's options
    script: str = ""  # the script backend's script, as text
    templates: dict[str, str] = field(default_factory=dict)  # prompt overrides by kind
    hook: str = ""  # the worktree hook, relative to the repository
    env: dict[str, str] = field(default_factory=dict)  # the task's own (identity, ports)
    extra: str = ""  # what a start prompt adds before the rules (memory entries)
    allowed_tools: list[str] = field(default_factory=list)
    container_image: str = ""  # run the agent inside this image ([container])
    container_engine: str = ""  # docker | podman ("": whichever answers)
    idle_timeout: float = 0.0  # 0: none
    turn_timeout: float = 3600.0
    heartbeat_timeout: float = 30.0
    max_attempts: int = 3  # attempts whose worker was lost, before the turn fails

    @property
    def folder(self) -> str:
        """The project's folder on a worker (its worktrees, its agents' files)."""
        return f"{self.project}-{self.project_uid}"

    @property
    def start_ref(self) -> str:
        return f"{START_REFS}/{self.effect_id}"

    def done_ref(self, attempt: int) -> str:
        return f"{DONE_REFS}/{self.effect_id}/{attempt}"


@dataclass
class Attempt:
    """One attempt at a turn as its heartbeats describe it: what a lost worker leaves."""

    worker: str = ""
    number: int = 1
    session_id: str = ""
    usage: Json = field(default_factory=dict)  # `Usage`, encoded
    cumulative: bool = False
    seconds: float = 0.0
    head: str = ""  # the worktree's HEAD when the attempt began
    sent: int = 0  # transcript entries signalled so far


@dataclass
class TranscriptBatch:
    """Transcript entries of one attempt, in order: [epoch seconds, kind, body]. The
    worker's name comes along: Temporal records an attempt's start only once it ends."""

    attempt: int
    entries: list[list[Any]]
    worker: str = ""


@dataclass
class TurnDone:
    """A turn's outcome, as the worker reports it (the controller makes the core event)."""

    ok: bool
    worker: str
    attempt: int
    failure: str = ""
    error: str = ""
    reply: str = ""
    session_id: str = ""
    usage: Json = field(default_factory=dict)
    usage_cumulative: bool = False
    seconds: float = 0.0
    reset_at: float | None = None
    exit_code: int | None = None
    head_sha: str = ""  # "" when the turn never got as far as a workspace
    pushed: bool = False  # the head was pushed to `done_ref(attempt)`
    earlier: list[Attempt] = field(default_factory=list)  # attempts cut off before this one


def attempt_from(data: object) -> Attempt | None:
    """An `Attempt` from heartbeat details (decoded as plain JSON); None if not one."""
    if not isinstance(data, dict):
        return None
    known = set(Attempt.__dataclass_fields__)
    try:
        return Attempt(**{k: v for k, v in data.items() if k in known})
    except TypeError:
        return None
