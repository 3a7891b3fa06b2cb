"""The real agent CLIs for the swarm tests (the same fixture as the engine tests')."""

from tests.engine.conftest import clis_bin

__all__ = ["clis_bin"]
