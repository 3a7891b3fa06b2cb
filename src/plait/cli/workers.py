"""`plait worker` (take agent turns from a Temporal queue) and `plait workers` (list them).

Both need Temporal's SDK (the `temporal` extra); it is imported when one of them runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from plait import exits
from plait.api.client import LiveAPI, open_api
from plait.api.views import workers_view
from plait.cli.common import add_json_flag, add_project_flag, positive_int, print_json, table
from plait.engine.project import open_project
from plait.errors import ExecutorError, UsageError
from plait.plans.executor import LOCAL, ExecutorConfig, address_problem, executor_from_flag

Json = dict[str, Any]


def _scaleout() -> Any:
    """The scale-out package, or how to get it."""
    try:
        import plait.scaleout as scaleout
    except ImportError as exc:
        raise ExecutorError(
            f"workers need Temporal's SDK ({exc.name} is missing)",
            hint="pip install 'plait[temporal]'",
        ) from None
    return scaleout


def _address(text: str) -> str:
    why = address_problem(text)
    if why:
        raise argparse.ArgumentTypeError(f"{text!r} {why}")
    return text


def _target(args: argparse.Namespace) -> ExecutorConfig:
    """The server and queue the flags name, with their TLS options."""
    base = replace(
        LOCAL,
        tls=args.tls,
        tls_ca=args.tls_ca or "",
        tls_cert=args.tls_cert or "",
        tls_key=args.tls_key or "",
        tls_server_name=args.tls_server_name or "",
        api_key_env=args.api_key_env or "",
    )
    if bool(base.tls_cert) != bool(base.tls_key):
        raise UsageError("--tls-cert and --tls-key go together", hint="give both, or neither")
    namespace = f"?namespace={args.namespace}" if args.namespace else ""
    return executor_from_flag(f"temporal://{args.temporal}/{args.queue}{namespace}", base)


# ---- plait worker ------------------------------------------------------------------------------
def cmd_worker(args: argparse.Namespace) -> int:
    scaleout = _scaleout()
    config = _target(args)
    agents = (
        scaleout.check_agents(tuple(a.strip() for a in args.agents.split(",") if a.strip()))
        if args.agents
        else scaleout.installed_agents(dict(os.environ))
    )
    name = args.name or scaleout.default_name()
    options = scaleout.WorkerOptions(
        config=config,
        name=name,
        slots=args.slots,
        agents=agents,
        root=Path(args.dir).expanduser().resolve() if args.dir else scaleout.default_root(name),
        remote=args.remote,
    )

    def ready(queue: str) -> None:
        print(
            f"plait worker {name}: {args.slots} slot(s) for {', '.join(agents)} from "
            f"{queue} on {config.address} (folder {options.root})",
            flush=True,
        )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await scaleout.serve(options, stop, on_ready=ready)

    asyncio.run(main())
    print(f"plait worker {name}: stopped", file=sys.stderr)
    return exits.OK


# ---- plait workers -----------------------------------------------------------------------------
def cmd_workers(args: argparse.Namespace) -> int:
    view = _workers_from_flags(args) if args.temporal else _workers_of_project(args)
    if problem := view.get("problem"):
        # The engine could not ask its Temporal server: said as `--temporal` says it.
        raise ExecutorError(str(problem["error"]), hint=str(problem.get("hint", "")))
    if args.json:
        print_json(view)
        return exits.OK
    rows = view["workers"]
    print(f"agent turns run: {view['executor']}")
    if not rows:
        print("no workers" if view["executor"] != "local" else "(on this machine; no workers)")
        return exits.OK
    print(
        table(
            ("name", "host", "state", "slots", "busy", "agents", "last heartbeat"),
            (
                (
                    r["name"],
                    r["host"],
                    r["state"],
                    r["slots"],
                    r["busy"],
                    ",".join(r["agents"]) or "-",
                    f"{r['seconds_since_heartbeat']:g}s ago",
                )
                for r in rows
            ),
        )
    )
    return exits.OK


def _workers_from_flags(args: argparse.Namespace) -> Json:
    if not args.queue:
        raise UsageError("--temporal needs --queue", hint="e.g. --queue plait")
    return _ask(_target(args))


def _workers_of_project(args: argparse.Namespace) -> Json:
    proj = open_project(args.project)
    try:
        api = open_api(proj)
        if isinstance(api, LiveAPI):
            try:
                return api.workers()
            finally:
                api.close()
        config = proj.effective().executor
    finally:
        proj.close()
    if config.kind != "temporal":
        return workers_view(config.url, (), now=time.time())
    return _ask(config)


def _ask(config: ExecutorConfig) -> Json:
    scaleout = _scaleout()

    async def ask() -> Any:
        client = await scaleout.connect(config)
        return await scaleout.list_workers(client, config.task_queue, now=time.time())

    return workers_view(config.url, asyncio.run(ask()), now=time.time())


# ---- parsers -----------------------------------------------------------------------------------
def _server_flags(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument(
        "--temporal",
        type=_address,
        required=required,
        metavar="HOST:PORT",
        help="the Temporal server's frontend (gRPC) address",
    )
    p.add_argument(
        "--queue",
        required=required,
        metavar="NAME",
        help="the project's task queue ([executor] task_queue; default plait)",
    )
    p.add_argument("--namespace", metavar="NS", help="the Temporal namespace (default: default)")
    p.add_argument("--tls", action="store_true", help="connect with TLS")
    p.add_argument("--tls-ca", metavar="FILE", help="CA certificate of the server (PEM)")
    p.add_argument("--tls-cert", metavar="FILE", help="client certificate for mTLS (PEM)")
    p.add_argument("--tls-key", metavar="FILE", help="the client certificate's key (PEM)")
    p.add_argument("--tls-server-name", metavar="NAME", help="the server name TLS checks")
    p.add_argument(
        "--api-key-env", metavar="VAR", help="environment variable holding a Temporal Cloud API key"
    )


def register(sub: Any) -> None:
    worker = sub.add_parser(
        "worker",
        help="take agent turns from a Temporal queue on this machine",
        description="Run agent turns for projects whose executor is this Temporal queue: "
        "fetch the task's branch, run the agent, push the result. Runs until SIGTERM or "
        "Ctrl-C, which hands the turns under way to other workers.",
    )
    _server_flags(worker, required=True)
    worker.add_argument(
        "--slots",
        type=positive_int,
        default=2,
        metavar="N",
        help="agent turns at once (default: 2)",
    )
    worker.add_argument(
        "--agents",
        metavar="A,B",
        help="agent backends this worker offers (default: the CLIs installed)",
    )
    worker.add_argument("--name", help="the worker's name (default: the host name)")
    worker.add_argument(
        "--dir", metavar="PATH", help="the worker's folder (default: $PLAIT_HOME/workers/NAME)"
    )
    worker.add_argument(
        "--remote",
        metavar="GIT_URL",
        help="fetch and push here instead of where the controller says",
    )
    worker.set_defaults(handler=cmd_worker)

    workers = sub.add_parser("workers", help="list the workers that take a project's agent turns")
    add_project_flag(workers)
    _server_flags(workers, required=False)
    add_json_flag(workers)
    workers.set_defaults(handler=cmd_workers)
