"""`plait run` in a real terminal (a pseudo-terminal) shows the TUI and hosts the engine;
quitting after the run settled prints the summary, quitting before asks and stops the
engine cleanly. Without a terminal, `plait tui` says it needs one."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from tests.api.helpers_live import Live, turn, until
from tests.cli.helpers_cli import cli_env

PLAN = """\
# Gameplan: term

## Patches

### Patch 1: Add one
Write notes/one.txt.

### Patch 2: Add two
Write notes/two.txt.

## Dependency Graph

- Patch 1 -> []
- Patch 2 -> [1]
"""
SCRIPT = {
    "tasks": {
        "1": {"start": [turn("one", "notes/one.txt", "1\n", "One")]},
        "2": {"start": [turn("two", "notes/two.txt", "2\n", "Two")]},
        "slow": {"start": [turn("slow", "notes/slow.txt", "s\n", "Slow", {"sleep": 600})]},
    }
}


class Terminal:
    """A command on a pseudo-terminal of 140x40, its output gathered as it comes."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
        os.close(slave)
        self.master = master
        self.out = b""
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.out += chunk

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_for(self, text: str, timeout: float = 90) -> None:
        try:
            until(lambda: text.encode() in self.out, timeout=timeout, what=repr(text))
        except AssertionError as exc:
            tail = self.out[-3000:]
            raise AssertionError(f"{exc}; the terminal's last output: {tail!r}") from None

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def finish(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout=timeout)
        self.reader.join(timeout=5)
        os.close(self.master)
        return code


def _plait(live: Live, *args: str) -> Terminal:
    """`plait ARGS…` on a terminal of its own."""
    argv = [sys.executable, "-m", "plait.cli", *args]
    return Terminal(argv, cli_env(live.tmp, TERM="xterm-256color"))


def test_run_in_a_terminal_shows_the_tui_then_the_summary(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    plan = tmp_path / "plan.md"
    plan.write_text(PLAN)
    with _plait(
        live, "run", str(plan), "--repo", str(live.repo), "--script", str(live.script)
    ) as term:
        term.wait_for("Timeline [2]")  # the TUI, not the headless lines
        term.wait_for("the run is over")
        term.type("q")
        code = term.finish()
    text = term.out.decode(errors="replace")
    assert code == 0, text[-3000:]
    assert "2/2 landed" in text
    assert "outcome: merged" in text


def test_quitting_a_run_in_the_tui_stops_its_engine_cleanly(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "q")
    live.ok("add", "Slow", "--id", "slow", "--body", "x", "-p", "q")
    with _plait(live, "resume", "q") as term:
        until(lambda: _status(live, "slow") == "working", what="slow at work")
        term.type("q")
        term.wait_for("quitting stops it")
        term.type("y")
        code = term.finish()
    assert code != 0  # the run did not settle
    assert "stopped" in term.out.decode(errors="replace")
    projects = json.loads(live.ok("projects", "--json"))
    assert projects[0]["engine"] is False
    assert not (live.home() / "q" / "engine.json").exists()
    time.sleep(0.5)
    assert _status(live, "slow") == "working"  # its work waits for the next engine


def _status(live: Live, task: str) -> str:
    out = live.plait("ps", "--all", "-p", "q", "--json")
    if out.returncode != 0:
        return ""
    return next((r["status"] for r in json.loads(out.stdout) if r["id"] == task), "")


def test_the_tui_needs_a_terminal(tmp_path: Path) -> None:
    live = Live.make(tmp_path, SCRIPT)
    live.ok("init", "--repo", str(live.repo), "--script", str(live.script), "-p", "n")
    out = live.plait("tui", "n")
    assert out.returncode == 2
    assert "the TUI needs a terminal" in out.stderr
    assert "Traceback" not in out.stderr
