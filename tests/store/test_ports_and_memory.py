"""The port registry and the shared memory, on a real SQLite store."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from plait.store import memory
from plait.store.ports import env_name, held, ports_for, release
from plait.store.sqlite import Store


def test_fifty_concurrent_tasks_get_distinct_ports_that_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "plait.db"
    tasks = [f"t{i}" for i in range(50)]

    def claim(task: str) -> dict[str, int]:
        store = Store(path)  # one connection per caller, as separate processes would
        try:
            return ports_for(store, task, ["web", "db"])
        finally:
            store.close()

    Store(path).close()
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = dict(zip(tasks, pool.map(claim, tasks), strict=True))
    every = [port for ports in got.values() for port in ports.values()]
    assert len(every) == 100
    assert len(set(every)) == 100  # never handed out twice
    reopened = Store(path)  # an engine restart: the same task asks again
    try:
        assert ports_for(reopened, "t7", ["web", "db"]) == got["t7"]
        assert len(held(reopened)) == 100
        assert release(reopened, "t7") == 2
        assert all(task != "t7" for _, task, _ in held(reopened))
    finally:
        reopened.close()


def test_a_port_the_os_hands_out_again_is_not_given_to_a_second_task(tmp_path: Path) -> None:
    store = Store(tmp_path / "plait.db")
    picks = iter([40001, 40001, 40002])
    first = ports_for(store, "a", ["web"], pick=lambda: next(picks))
    second = ports_for(store, "b", ["web"], pick=lambda: next(picks))
    assert first == {"web": 40001}
    assert second == {"web": 40002}


def test_a_free_port_is_free_and_names_become_variables() -> None:
    store = Store(":memory:")
    [port] = ports_for(store, "a", ["web"]).values()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # nothing holds it
    assert env_name("web") == "PLAIT_PORT_WEB"
    assert env_name("db-main") == "PLAIT_PORT_DB_MAIN"


def test_memory_search_ranks_and_never_reads_text_as_query_syntax() -> None:
    store = Store(":memory:")
    a = memory.add(store, "billing totals are kept in cents", tags=("billing",), task="t1", at=1)
    memory.add(store, "run make test before committing", at=2)
    assert [e.id for e in memory.search(store, "billing cents")] == [a]
    assert [e.id for e in memory.relevant(store, "Fix billing: totals in dollars")] == [a]
    for hostile in (
        '"',
        "NEAR(",
        "a OR",
        "*",
        "-x",
        "billing AND",
        "col:x",
        "'; DROP TABLE memory",
    ):
        memory.search(store, hostile)  # no error
        memory.relevant(store, hostile)
    assert memory.entries(store, tag="billing")[0].task == "t1"
    assert memory.forget(store, a)
    assert not memory.forget(store, a)


def test_plait_toml_gives_every_task_ports_by_service_name() -> None:
    from plait.errors import PlanError
    from plait.plans.config import parse_config

    cfg = parse_config('[worktree]\nports = ["web", "db", "web"]\n', "plait.toml")
    assert cfg.ports == ("web", "db")
    with pytest.raises(PlanError) as caught:
        parse_config('[worktree]\nports = ["web", 3]\n', "plait.toml")
    assert caught.value.problems[0].line == 2
    assert "service names" in caught.value.problems[0].render()
