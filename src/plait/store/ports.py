"""The port registry: free TCP ports handed to tasks by service name, held in the store.

A task asks for ports for its services ("web", "db"); it gets the ports it already holds
(stable across restarts of its agent and of the engine) and a free one for each new
service. The port is the table's key, so no port is ever held by two tasks at once; a
task's ports go back when it ends (`release`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable

from plait.store.sqlite import Store

_TRIES = 50  # free ports asked of the OS before giving up on one service


def free_port() -> int:
    """A port nothing listens on right now on 127.0.0.1, as the OS picks it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ports_for(
    store: Store, task: str, services: Iterable[str], *, pick: Callable[[], int] = free_port
) -> dict[str, int]:
    """`task`'s port for each service: the one it holds, or a new one no task holds."""
    db = store.db
    wanted = list(dict.fromkeys(services))
    if not wanted:
        return {}
    db.execute("BEGIN IMMEDIATE")
    try:
        held = dict(db.execute("SELECT service, port FROM ports WHERE task = ?", (task,)))
        out: dict[str, int] = {}
        for service in wanted:
            port = held.get(service)
            if port is None:
                port = _claim(store, task, service, pick)
            out[service] = int(port)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return out


def _claim(store: Store, task: str, service: str, pick: Callable[[], int]) -> int:
    for _ in range(_TRIES):
        port = pick()
        taken = store.db.execute("SELECT 1 FROM ports WHERE port = ?", (port,)).fetchone()
        if taken is None:
            store.db.execute(
                "INSERT INTO ports(port, task, service) VALUES (?, ?, ?)", (port, task, service)
            )
            return port
    raise OSError(f"no free port for {task}'s {service!r} after {_TRIES} tries")


def release(store: Store, task: str) -> int:
    """Give `task`'s ports back; how many it held."""
    return store.db.execute("DELETE FROM ports WHERE task = ?", (task,)).rowcount


def held(store: Store) -> list[tuple[int, str, str]]:
    """(port, task, service) of every port held, by port."""
    rows = store.db.execute("SELECT port, task, service FROM ports ORDER BY port")
    return [(int(p), str(t), str(s)) for p, t, s in rows]


def env_name(service: str) -> str:
    """PLAIT_PORT_WEB for "web" (anything not a letter or digit becomes '_')."""
    cleaned = "".join(c if c.isascii() and c.isalnum() else "_" for c in service.upper())
    return f"PLAIT_PORT_{cleaned}"
