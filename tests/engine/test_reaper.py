"""Agent process groups left by a killed engine are reaped on the next start."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from plait.engine import reaper
from plait.store.sqlite import Store


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_orphaned_group_is_killed_and_forgotten(tmp_path: Path) -> None:
    store = Store(tmp_path / "plait.db")
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        reaper.remember(store, "t/1/agent", proc.pid)
        assert store.processes()[0][:2] == ("t/1/agent", proc.pid)
        assert reaper.reap_orphans(store) == [proc.pid]
        proc.wait(timeout=10)
        assert not _alive(proc.pid)
        assert store.processes() == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_recycled_pid_is_left_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "plait.db")
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        # A record whose start time does not match is some other process now.
        store.add_process("t/2/agent", proc.pid, "1")
        assert reaper.reap_orphans(store) == []
        time.sleep(0.05)
        assert _alive(proc.pid)
        assert store.processes() == []
    finally:
        proc.kill()
        proc.wait()


def test_forget_after_a_turn(tmp_path: Path) -> None:
    store = Store(tmp_path / "plait.db")
    reaper.remember(store, "t/3/agent", os.getpid())
    reaper.forget(store, "t/3/agent")
    assert store.processes() == []


def _orphaned_group(store: Store) -> int:
    """A recorded group whose leader has exited, leaving a child behind; the child's pid."""
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!; read _"],
        start_new_session=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert leader.stdout is not None
    child = int(leader.stdout.readline())
    leader.stdout.close()
    reaper.remember(store, "t/4/agent", leader.pid)
    assert leader.stdin is not None
    leader.stdin.close()
    leader.wait(timeout=10)
    assert _alive(child)
    return child


def test_children_of_a_group_whose_leader_exited_are_killed(tmp_path: Path) -> None:
    store = Store(tmp_path / "plait.db")
    child = _orphaned_group(store)
    try:
        assert reaper.reap_orphans(store) == [child]
        assert not _alive(child)
        assert store.processes() == []
    finally:
        if _alive(child):
            os.kill(child, 9)


def test_what_left_its_group_inside_the_worktrees_is_killed(tmp_path: Path) -> None:
    store = Store(tmp_path / "plait.db")
    worktree = tmp_path / "worktrees" / "7"
    worktree.mkdir(parents=True)
    elsewhere = subprocess.Popen(["sleep", "300"], cwd=tmp_path, start_new_session=True)
    escaped = subprocess.Popen(["sleep", "300"], cwd=worktree, start_new_session=True)
    try:
        killed = reaper.reap_orphans(store, worktrees=str(tmp_path / "worktrees"))
        assert killed == [escaped.pid]
        escaped.wait(timeout=10)
        assert _alive(elsewhere.pid)
    finally:
        for proc in (elsewhere, escaped):
            proc.kill()
            proc.wait()
