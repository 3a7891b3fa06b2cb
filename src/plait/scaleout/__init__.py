"""Scale-out: agent turns on `plait worker`s through a Temporal server, one controller.

The controller (the project's engine) keeps the store, the outbox and the API, and runs
everything but agent turns itself; `TemporalExecutor` sends each turn to a worker as a
Temporal workflow named by its effect id. `serve` is `plait worker`; `list_workers` is
`plait workers`. Needs the `temporal` extra (`pip install 'plait[temporal]'`).
"""

from plait.scaleout.connect import connect
from plait.scaleout.executor import ROUTES, ControllerFacts, TemporalExecutor
from plait.scaleout.registry import list_workers
from plait.scaleout.routing import activity_queue, candidate_queues
from plait.scaleout.worker import (
    WorkerOptions,
    check_agents,
    default_name,
    default_root,
    installed_agents,
    serve,
)

__all__ = [
    "ROUTES",
    "ControllerFacts",
    "TemporalExecutor",
    "WorkerOptions",
    "activity_queue",
    "candidate_queues",
    "check_agents",
    "connect",
    "default_name",
    "default_root",
    "installed_agents",
    "list_workers",
    "serve",
]
