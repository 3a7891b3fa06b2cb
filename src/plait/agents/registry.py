"""Agent backends by name.

`BACKENDS` maps a backend name to a factory called with the backend's options as keyword
arguments. To add a backend, add one line to the table below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plait.agents.base import AgentBackend
from plait.agents.claude import ClaudeBackend
from plait.agents.codex import CodexBackend
from plait.agents.gemini import GeminiBackend
from plait.agents.opencode import OpenCodeBackend
from plait.agents.pi import PiBackend
from plait.agents.script import ScriptBackend
from plait.errors import AgentError

BackendFactory = Callable[..., AgentBackend]


def _script(*, script: str | None = None, **opts: Any) -> AgentBackend:
    return ScriptBackend(script, **opts)


BACKENDS: dict[str, BackendFactory] = {
    "claude": ClaudeBackend,
    "codex": CodexBackend,
    "opencode": OpenCodeBackend,
    "pi": PiBackend,
    "gemini": GeminiBackend,
    "script": _script,
}


def register(name: str, factory: BackendFactory, *, replace: bool = False) -> None:
    """Make a backend available under `name` (plugins, tests)."""
    if name in BACKENDS and not replace:
        raise AgentError(f"agent backend {name!r} is already registered", hint="pick another name")
    BACKENDS[name] = factory


def get_backend(name: str, *, script: str | None = None, **opts: Any) -> AgentBackend:
    """The backend called `name`, built with `opts`.

    `script` is the script backend's file; other backends ignore it, so a caller can pass
    the project's setting whatever backend it names.
    """
    factory = BACKENDS.get(name)
    if factory is None:
        raise AgentError(
            f"unknown agent backend {name!r}",
            hint=f"use one of: {', '.join(sorted(BACKENDS))}",
        )
    if script is not None and name == "script":
        opts["script"] = script
    try:
        return factory(**opts)
    except TypeError as exc:
        raise AgentError(
            f"bad options for agent backend {name!r}: {exc}",
            hint="check the agent settings of the project",
        ) from exc
