"""`python -m plait.cli …` on a clock the test moves: a real engine process whose
`time.time()` is the real time plus the seconds written in the file named by
`PLAIT_TEST_CLOCK_SKEW` (followed every 50 ms). The engine, its sources and the store take
their time from `time.time`, so a test moves a background engine six hours on by writing
`21600` — asyncio's timers (monotonic) and the agents' processes keep real time.

    python tests/engine/clocked_plait.py up notes --foreground
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path

_real = time.time
_skew = 0.0


def _follow(path: Path) -> None:
    global _skew
    while True:
        with contextlib.suppress(OSError, ValueError):
            _skew = float(path.read_text().strip() or 0)
        time.sleep(0.05)


def _now() -> float:
    return _real() + _skew


if __name__ == "__main__":
    skew = Path(os.environ["PLAIT_TEST_CLOCK_SKEW"])
    _skew = float(skew.read_text().strip() or 0) if skew.exists() else 0.0
    threading.Thread(target=_follow, args=(skew,), daemon=True).start()
    time.time = _now  # before plait is imported: its default clocks bind to this one
    from plait.cli import main

    sys.argv[0] = "plait"
    sys.exit(main())
