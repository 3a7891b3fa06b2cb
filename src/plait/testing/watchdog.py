"""Run a command that ends with its parent, even a parent killed with SIGKILL:

    python path/to/watchdog.py CMD ARG…       # stdin: a pipe whose other end the parent keeps

The watchdog starts the command and reads its own stdin. The parent holds the pipe's
write end and never writes; when the parent goes, however it goes, the kernel closes that
end and the read returns end-of-file: the watchdog stops the command (SIGTERM, then
SIGKILL after `GRACE` seconds) and exits. When the command exits first, the watchdog exits
with its code. A test session's Temporal dev server runs under it (`plait.testing.temporal`),
so a killed pytest leaves no server behind.

Only the standard library, run by its path: it starts in a few milliseconds and needs no
`plait` on its `sys.path`.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from types import FrameType

GRACE = 10.0  # seconds the command has to stop after SIGTERM
LOOK = 0.5  # seconds between looks at whether the command still runs


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: watchdog.py CMD [ARG…]  (stdin: the parent's pipe)", file=sys.stderr)
        return 2
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        _end(child)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while child.poll() is None:
        ready, _, _ = select.select([sys.stdin.fileno()], [], [], LOOK)
        if ready and not os.read(sys.stdin.fileno(), 4096):
            _end(child)  # the parent's end is closed: the parent is gone
            return 0
    return child.returncode


def _end(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=GRACE)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
