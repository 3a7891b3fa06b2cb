"""The workers serving a queue, as the Temporal server lists them.

Workers need no registry of plait's own: the SDK sends the server a heartbeat per
worker (see `connect.worker_runtime`) with its identity, host, task queue and slots in
use, and `ListWorkers` returns them. A `plait worker` runs two Temporal workers (the
workflow queue and its activity queue): their entries are merged into one row here.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import WorkerStatus
from temporalio.api.worker.v1 import WorkerHeartbeat
from temporalio.api.workflowservice.v1 import ListWorkersRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from plait.engine.executor import WorkerInfo
from plait.errors import ExecutorError
from plait.scaleout.connect import unreachable
from plait.scaleout.routing import LOST_AFTER, WORKER_BEAT, agents_of, parse_identity

# A stopping worker beats on while it hands its turns back; two beats missed: it is gone.
STOPPED_AFTER = 2 * WORKER_BEAT

_STATES = {
    WorkerStatus.WORKER_STATUS_RUNNING: "running",
    WorkerStatus.WORKER_STATUS_SHUTTING_DOWN: "stopping",
    WorkerStatus.WORKER_STATUS_SHUTDOWN: "stopped",
}


async def list_workers(client: Client, queue: str, *, now: float) -> list[WorkerInfo]:
    """The plait workers of `queue`, by name. ExecutorError when the server cannot say."""
    rows: dict[tuple[str, str], WorkerInfo] = {}
    for beat in await _heartbeats(client):
        agents = agents_of(queue, beat.task_queue)
        if agents is None and beat.task_queue != queue:
            continue
        name, slots = parse_identity(beat.worker_identity)
        key = (name, beat.host_info.host_name)
        seen = beat.heartbeat_time.ToSeconds() if beat.HasField("heartbeat_time") else 0.0
        state = worker_state(beat.status, silent=now - seen)
        row = WorkerInfo(
            name=name,
            host=beat.host_info.host_name,
            slots=slots,
            busy=beat.activity_task_slots_info.current_used_slots if agents is not None else 0,
            agents=agents or (),
            last_heartbeat=float(seen),
            state=state,
        )
        rows[key] = _merge(rows.get(key), row)
    return sorted(rows.values(), key=lambda w: (w.name, w.host))


def worker_state(status: WorkerStatus.ValueType, *, silent: float) -> str:
    """What a worker is, from its last heartbeat and how long it has been silent since.

    A worker stopped with SIGTERM says "shutting down" and then nothing more (the server
    keeps that last heartbeat): once it has missed its beats it has stopped. A running one
    that falls silent died or lost its network: lost.
    """
    state = _STATES.get(status, "running")
    if state == "stopping" and silent > STOPPED_AFTER:
        return "stopped"
    if state == "running" and silent > LOST_AFTER:
        return "lost"
    return state


def _merge(old: WorkerInfo | None, new: WorkerInfo) -> WorkerInfo:
    if old is None:
        return new
    # The freshest heartbeat says whether the worker is alive; the activity queue's
    # entry says what it has and does.
    fresh = new if new.last_heartbeat >= old.last_heartbeat else old
    work = new if new.agents else old
    return WorkerInfo(
        name=new.name,
        host=new.host,
        slots=max(old.slots, new.slots),
        busy=work.busy,
        agents=work.agents,
        last_heartbeat=fresh.last_heartbeat,
        state=fresh.state,
    )


async def _heartbeats(client: Client) -> list[WorkerHeartbeat]:
    beats: list[WorkerHeartbeat] = []
    token = b""
    while True:
        request = ListWorkersRequest(
            namespace=client.namespace, page_size=500, next_page_token=token
        )
        try:
            reply = await client.workflow_service.list_workers(request)
        except RPCError as exc:
            if exc.status in (RPCStatusCode.UNIMPLEMENTED, RPCStatusCode.PERMISSION_DENIED):
                raise ExecutorError(
                    f"the Temporal server does not list workers: {exc.message}",
                    hint="plait needs its ListWorkers API (worker heartbeats) to see and "
                    "route to workers; turns still go to `<queue>@<agent>` queues",
                ) from None
            address = client.service_client.config.target_host
            gone = unreachable(exc, address)
            if gone is not None:
                raise gone from None
            raise ExecutorError(
                f"listing the workers of Temporal at {address} failed: {exc.message}",
                hint="is the server up?",
            ) from None
        beats += [info.worker_heartbeat for info in reply.workers_info]
        token = reply.next_page_token
        if not token:
            return beats
