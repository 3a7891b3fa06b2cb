"""The backend registry: lookup by name, unknown names, registration."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.agents import BACKENDS, ClaudeBackend, ScriptBackend, get_backend, register
from plait.agents.base import AgentBackend
from plait.errors import AgentError


def test_known_backends() -> None:
    claude = get_backend("claude", model="m")
    assert isinstance(claude, ClaudeBackend)
    assert claude.model == "m"
    assert claude.name == "claude"
    script = get_backend("script")
    assert isinstance(script, ScriptBackend)
    assert script.script_path is None


def test_script_option_goes_to_the_script_backend_only(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"default": {}}')
    backend = get_backend("script", script=str(path))
    assert isinstance(backend, ScriptBackend)
    assert backend.script_path == str(path)
    assert isinstance(get_backend("claude", script=str(path)), ClaudeBackend)


def test_unknown_backend_lists_known_ones() -> None:
    with pytest.raises(AgentError) as info:
        get_backend("nope")
    assert "nope" in info.value.message
    assert "claude" in info.value.hint
    assert "script" in info.value.hint


def test_bad_options_and_bad_script_are_agent_errors(tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="bad options"):
        get_backend("claude", colour="blue")
    with pytest.raises(AgentError, match="cannot read agent script"):
        get_backend("script", script=str(tmp_path / "missing.json"))


def test_register_adds_and_refuses_duplicates() -> None:
    def factory(**opts: object) -> AgentBackend:
        return ClaudeBackend(executable="my-claude")

    register("test-only", factory)
    try:
        backend = get_backend("test-only")
        assert isinstance(backend, ClaudeBackend)
        assert backend.executable == "my-claude"
        with pytest.raises(AgentError, match="already registered"):
            register("test-only", factory)
        register("test-only", factory, replace=True)
    finally:
        del BACKENDS["test-only"]
