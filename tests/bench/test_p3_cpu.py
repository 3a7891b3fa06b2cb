"""P3 reports the CPU each side used (bench/README.md): `cpu_meter` counts the CPU of the
benchmark's process and that of the processes it started and reaped within the block."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.p3_overhead import cpu_meter


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_meter_counts_own_and_childrens_cpu_apart() -> None:
    child = [
        sys.executable,
        "-c",
        "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass",
    ]
    with cpu_meter() as cpu:
        _burn(0.2)
        subprocess.run(child, check=True)
    [used] = cpu
    assert 0.2 <= used.own < 0.2 + 0.3
    assert 0.3 <= used.children < 0.3 + 0.3  # the child's interpreter start on top
    assert used.total == used.own + used.children


def test_a_child_reaped_after_the_block_is_not_counted() -> None:
    child = [
        sys.executable,
        "-c",
        "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass",
    ]
    proc = subprocess.Popen(child)
    with cpu_meter() as cpu:
        pass
    proc.wait()
    assert cpu[0].children < 0.05
