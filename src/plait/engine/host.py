"""Running a project's engine in this process, with its local API, until it is done.

`host()` is what `plait run`, `plait resume`, `plait up` (in the background process) and
`plait demo` share: take the project's engine lock (one engine per project), build the
engine, open the API listeners, say where they are (`engine.json` in the project folder,
which clients read), run, and clean up whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from plait.agents.registry import BACKENDS
from plait.api.server import ApiContext, EventHub, loopback_listener, serve_api, unix_listener
from plait.core import events as ev
from plait.core.model import RunState
from plait.core.progress import settled
from plait.engine.loop import Engine, EngineResult, Observer, Service
from plait.engine.project import Project, build_engine, check_repository, engine_lock
from plait.errors import ProjectError
from plait.sources import Source, SourceContext, for_project
from plait.sources import conflicts as _conflicts
from plait.sources import issues as _issues
from plait.sources import schedules as _schedules

# The sources a project's engine runs register themselves on import.
_REGISTERED = (_schedules, _conflicts, _issues)


@dataclass(frozen=True, slots=True, kw_only=True)
class HostOptions:
    mode: str = "foreground"  # foreground (exits when `until` holds) | background
    until: Callable[[RunState], bool] | None = settled
    http_port: int | None = None  # also serve loopback HTTP (0: any free port)
    token: str | None = None  # the forge token (GitHub), kept in memory only
    # A swarm: the first Ctrl-C decides this event (it drains); the second stops at once.
    drain: Callable[[], ev.Event] | None = None


def host(
    proj: Project,
    first: Sequence[ev.Event] = (),
    *,
    observer: Observer | None = None,
    options: HostOptions | None = None,
    on_ready: Callable[[Engine, dict[str, object]], None] | None = None,
) -> EngineResult:
    """Run the project's engine here until it is done or stopped; closes the project."""
    opts = options or HostOptions()
    try:
        check_repository(proj)
        with engine_lock(proj):
            engine = build_engine(proj, observer=observer, token=opts.token)
            if engine.state is None and not any(isinstance(e, ev.RunStarted) for e in first):
                raise ProjectError(
                    f"project {proj.name!r} has not started",
                    hint=f"create it with `plait init --repo PATH --project {proj.name}`",
                )
            config = proj.effective().config
            if engine.state is not None and engine.state.config != config:
                # Settings changed since the last engine (flags, plait.toml): say so first.
                first = [ev.ConfigChanged(at=time.time(), config=config), *first]
            return asyncio.run(_serve(proj, engine, first, opts, on_ready))
    finally:
        proj.close()


async def _serve(
    proj: Project,
    engine: Engine,
    first: Sequence[ev.Event],
    opts: HostOptions,
    on_ready: Callable[[Engine, dict[str, object]], None] | None,
) -> EngineResult:
    paths = proj.paths
    unix_path = str(paths.socket)
    http = loopback_listener(opts.http_port) if opts.http_port is not None else None
    unix = unix_listener(unix_path)
    token = _token(proj) if http is not None else ""
    hub = EventHub(lambda: engine.seq)
    engine.watch(hub)
    ctx = ApiContext(
        engine=engine,
        project=proj.name,
        mode=opts.mode,
        agents=tuple(BACKENDS),
        token=token,
        make_token=lambda: _token(proj),
        notify=proj.effective().notify,
    )
    info: dict[str, object] = {
        "pid": os.getpid(),
        "socket": unix_path,
        "http": f"http://127.0.0.1:{http.getsockname()[1]}" if http is not None else None,
        "mode": opts.mode,
        "started_at": ctx.started_at,
    }
    _write_private(paths.engine_info, json.dumps(info))

    def http_opened(url: str) -> None:  # `plait web` opened the listener later
        info["http"] = url
        _write_private(paths.engine_info, json.dumps(info))

    ctx.on_http = http_opened
    if on_ready is not None:
        on_ready(engine, info)

    async def api(_: Engine) -> None:
        await serve_api(ctx, hub, unix=unix, http=http)

    services: list[Service] = [api]
    for source in for_project(proj):
        services.append(_source_service(proj, source))
    try:
        return await engine.run(first, until=opts.until, services=services, drain=opts.drain)
    finally:
        with contextlib.suppress(OSError):
            paths.engine_info.unlink()
        with contextlib.suppress(OSError):
            os.unlink(unix_path)


def _source_service(proj: Project, source: Source) -> Service:
    async def run(engine: Engine) -> None:
        def state() -> RunState:
            assert engine.state is not None
            return engine.state

        ctx = SourceContext(
            project=proj.name,
            submit=engine.submit,
            state=state,
            store=engine.store,
            clock=engine.clock,
            perform=engine.perform,
        )
        await source.run(ctx)

    return run


def _token(proj: Project) -> str:
    """The loopback listener's bearer token: made once per project, kept 0600."""
    path = proj.paths.token
    with contextlib.suppress(OSError):
        token = path.read_text().strip()
        if len(token) >= 32:
            return token
    token = secrets.token_urlsafe(32)
    _write_private(path, token)
    return token


def _write_private(path: os.PathLike[str], text: str) -> None:
    """Write a file only its owner can read, atomically (readers never see half)."""
    tmp = f"{os.fspath(path)}.{os.getpid()}.{time.monotonic_ns()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
