"""plait.processes against real processes: groups and working directories."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from plait import processes


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait()


def _sleep(procs: list[subprocess.Popen[bytes]], cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["sleep", "300"], cwd=cwd, start_new_session=True)
    procs.append(proc)
    return proc


def test_a_group_is_found_by_its_leader_start_time(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    leader = _sleep(spawned, tmp_path)
    started = processes.started(leader.pid)
    assert [p.pid for p in processes.group(leader.pid, started)] == [leader.pid]
    assert processes.group_alive(leader.pid)
    # Another start time: the pid names some other process now, not ours.
    assert processes.group(leader.pid, repr(float(started) - 100)) == []
    assert processes.group(leader.pid, "") == []


def test_processes_inside_a_folder_but_not_beside_it(
    tmp_path: Path, spawned: list[subprocess.Popen[bytes]]
) -> None:
    inside = tmp_path / "wt" / "a" / "deep"
    inside.mkdir(parents=True)
    (tmp_path / "wt-other").mkdir()
    deep = _sleep(spawned, inside)
    _sleep(spawned, tmp_path / "wt-other")
    _sleep(spawned, tmp_path)
    assert [p.pid for p in processes.under(str(tmp_path / "wt"))] == [deep.pid]
    assert processes.under("") == []
    assert processes.under("/") == []
    assert processes.stop_under(str(tmp_path / "wt")) == [deep.pid]
    assert deep.wait(timeout=10) == -9


def test_a_shell_with_a_terminal_is_spared(tmp_path: Path) -> None:
    # A person's shell has a controlling terminal; an agent's leftovers have none.
    code = (
        "import os, pty, sys, time\n"
        "pid, fd = pty.fork()\n"
        "if pid == 0:\n"
        "    os.chdir(sys.argv[1]); print('in', flush=True); time.sleep(300)\n"
        "while b'in' not in os.read(fd, 100): pass\n"
        "print(pid, flush=True); os.read(0, 1); os.kill(pid, 9); os.waitpid(pid, 0)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        shell = int(holder.stdout.readline())
        assert os.path.realpath(os.readlink(f"/proc/{shell}/cwd")) == str(tmp_path.resolve())
        assert shell not in [p.pid for p in processes.under(str(tmp_path))]
    finally:
        holder.communicate("x", timeout=10)
