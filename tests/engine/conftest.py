"""Fixtures shared by the engine tests that drive real agent CLIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.testing.model_api_clis import AgentCLIsUnavailable, agent_clis_bin


@pytest.fixture(scope="session")
def clis_bin() -> Path:
    """The pinned agent CLIs' `.bin` folder (installed on first use), or a skip."""
    try:
        return agent_clis_bin()
    except AgentCLIsUnavailable as exc:
        pytest.skip(f"real agent CLIs unavailable: {exc}")
