"""The Temporal workflow of one agent turn: run it on a worker, again elsewhere if lost.

Why one workflow per turn (its id is the project's and the effect's id), not one per
task: the core already is the task's state machine — it orders the steps, retries failed
turns with backoff, cools backends down — and a per-task workflow would be a second copy
of it to keep in step. A workflow per turn maps one-to-one to an effect id, so Temporal's
own rule (one workflow per id) makes a turn effectively-once: a controller that restarts
and dispatches the turn again finds the workflow running (or its result) instead of
starting the turn twice.

What the workflow adds is what the core cannot see: a worker lost mid-turn. Each attempt
is an activity with a heartbeat timeout and no retries of Temporal's own; when one times
out (its worker died or hangs) or its worker shuts down, the workflow runs the turn again
on the next candidate queue, handing over what the lost attempt's last heartbeat said
(its session, its usage) so the next one can continue or start over with a summary.
After `max_attempts` lost workers the turn ends as a crash and the core decides.

The transcript signal has no handler work: each batch lands in the workflow's history,
where the controller reads it (see `executor`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    TimeoutError,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from plait.scaleout.jobs import (
        ACTIVITY,
        TRANSCRIPT_SIGNAL,
        WORKER_STOPPED,
        WORKFLOW,
        Attempt,
        TranscriptBatch,
        TurnDone,
        TurnJob,
        attempt_from,
    )

# Beyond the turn's own limit (the runner enforces it): preparing the workspace, hooks,
# committing and pushing.
_GIT_MARGIN = 900.0


@workflow.defn(name=WORKFLOW)
class AgentTurn:
    def __init__(self) -> None:
        self.batches = 0

    @workflow.signal(name=TRANSCRIPT_SIGNAL)
    def transcript(self, batch: TranscriptBatch) -> None:
        self.batches += 1  # kept in the history for the controller; nothing to do here

    @workflow.run
    async def run(self, job: TurnJob) -> TurnDone:
        earlier: list[Attempt] = []
        for n in range(max(1, job.max_attempts)):
            queue = job.queues[n % len(job.queues)]
            try:
                done: TurnDone = await workflow.execute_activity(
                    ACTIVITY,
                    args=[job, earlier],
                    result_type=TurnDone,
                    task_queue=queue,
                    start_to_close_timeout=timedelta(seconds=job.turn_timeout + _GIT_MARGIN),
                    heartbeat_timeout=timedelta(seconds=job.heartbeat_timeout),
                    retry_policy=RetryPolicy(maximum_attempts=1),
                    cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                )
                return done
            except ActivityError as err:
                if is_cancelled_exception(err) or workflow.cancellation_reason() is not None:
                    # Killed (`plait kill`): however the attempt ended, no other starts.
                    raise asyncio.CancelledError from err
                lost = _lost_attempt(err, n + 1)
                if lost is None:
                    raise
                earlier.append(lost)
        last = earlier[-1] if earlier else Attempt()
        return TurnDone(
            ok=False,
            worker=last.worker,
            attempt=len(earlier),
            failure="crash",
            error=f"the turn's worker was lost {len(earlier)} times (last: {last.worker or '?'})",
            session_id=last.session_id,
            earlier=earlier,
        )


def _lost_attempt(err: ActivityError, number: int) -> Attempt | None:
    """What the attempt left, when its worker was lost or stopped; None for any other
    failure (a bug in the activity: the workflow fails and the controller says so)."""
    cause = err.cause
    if isinstance(cause, TimeoutError):
        details = list(cause.last_heartbeat_details)
    elif isinstance(cause, ApplicationError) and cause.type == WORKER_STOPPED:
        details = list(cause.details)
    else:
        return None
    found = attempt_from(details[0]) if details else None
    return found or Attempt(number=number)
