"""What a person reads when Temporal cannot be reached: the transport's reason in plain
words, not the SDK's error structures (the texts below are what temporalio printed here
for a closed port and an unknown host)."""

from __future__ import annotations

import asyncio

import pytest

from plait.plans.executor import ExecutorConfig
from plait.scaleout.connect import TemporalUnreachable, connect, plain
from plait.testing.temporal import free_port

REFUSED = (
    "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
    'ConnectError(ConnectError("tcp connect error", 127.0.0.1:1, Os { code: 111, kind: '
    'ConnectionRefused, message: "Connection refused" })))'
)
NO_HOST = (
    "Failed client connect: Server connection error: tonic::transport::Error(Transport, "
    'ConnectError(ConnectError("dns error", Custom { kind: Uncategorized, error: "failed to '
    'lookup address information: Name or service not known" })))'
)


@pytest.mark.parametrize(
    ("raw", "reads"),
    [
        (REFUSED, "connection refused"),
        (NO_HOST, "the host name does not resolve (Name or service not known)"),
        (
            'status: DeadlineExceeded, message: "deadline has elapsed"',
            "no answer in time (a firewall, or the wrong port?)",
        ),
        ("operation timed out", "no answer in time (a firewall, or the wrong port?)"),
        ("tcp connect error", "nothing answers at that address (tcp connect error)"),
        ("something\n  else", "something else"),
        ("", "no reason given"),
    ],
)
def test_the_reason_reads_plainly(raw: str, reads: str) -> None:
    assert plain(raw) == reads


def test_a_closed_port_says_connection_refused() -> None:
    address = f"127.0.0.1:{free_port()}"
    config = ExecutorConfig(kind="temporal", address=address, task_queue="q")
    with pytest.raises(TemporalUnreachable) as caught:
        asyncio.run(connect(config))
    assert ": connection refused (" in str(caught.value), str(caught.value)
    assert "tonic" not in str(caught.value)
