"""Agent backends by name, and the options each one takes.

`BACKENDS` maps a backend name to its factory: a `Backend` class, whose options are its
declared fields, or any callable taking keyword options (plugins, tests), whose options
are passed on unchecked. To add a backend, add one line to the table below.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from plait.agents.base import AgentBackend
from plait.agents.claude import ClaudeBackend
from plait.agents.cli_backend import Backend
from plait.agents.codex import CodexBackend
from plait.agents.gemini import GeminiBackend
from plait.agents.opencode import OpenCodeBackend
from plait.agents.options import OptionSpec, parse_options
from plait.agents.pi import PiBackend
from plait.agents.script import ScriptBackend
from plait.errors import AgentError, UsageError

BackendFactory = Callable[..., AgentBackend]

BACKENDS: dict[str, BackendFactory] = {
    "claude": ClaudeBackend,
    "codex": CodexBackend,
    "opencode": OpenCodeBackend,
    "pi": PiBackend,
    "gemini": GeminiBackend,
    "script": ScriptBackend,
}


def register(name: str, factory: BackendFactory, *, replace: bool = False) -> None:
    """Make a backend available under `name` (plugins, tests)."""
    if name in BACKENDS and not replace:
        raise AgentError(f"agent backend {name!r} is already registered", hint="pick another name")
    BACKENDS[name] = factory


def backend_options(name: str) -> dict[str, OptionSpec]:
    """The options agent backend `name` takes, by option name, in declaration order.

    Each `OptionSpec` has the option's `name`, its `kind` (`kind.label` says how a value is
    written, `kind.example` shows one), its `default`, a one-line `help`, and `requires`
    (another option without which it has no effect). `spec.parse(value, backend=name)`
    checks one value the way `get_backend` does. Empty for a registered factory that
    declares no options. Raises AgentError for an unknown backend.
    """
    factory = _factory(name)
    return factory.options() if isinstance(factory, type) and issubclass(factory, Backend) else {}


def get_backend(
    name: str,
    options: Mapping[str, object] | None = None,
    /,
    *,
    script: str | None = None,
    home: str | None = None,
) -> AgentBackend:
    """The backend called `name`, built with `options` (option name → value).

    A value may be text, as `--agent-opt KEY=VALUE` gives it, or already typed. An unknown
    option, a value of the wrong kind, or an option that has no effect without another is
    a UsageError naming the option and the fix. Building a backend writes nothing (its
    files come with `prepare_home()`). `script` is the script backend's file; other
    backends ignore it, so a caller can pass the project's setting whatever backend it
    names. `home` is the folder a backend keeps its own configuration in when it is given
    a custom provider (`base_url`) and no `config_home`: `<project>/agents/<name>/` for a
    project's runs, so its sessions resume across restarts.
    """
    factory = _factory(name)
    given = dict(options or {})
    schema = backend_options(name)
    if not schema:
        return _unchecked(name, factory, given)
    if script is not None and "script" in schema:
        given.setdefault("script", script)
    values = parse_options(name, schema, given)
    if home is not None and _lacks_home(schema, values):
        values["config_home"] = schema["config_home"].parse(home, backend=name)
    return factory(**values)


def _lacks_home(schema: Mapping[str, OptionSpec], values: Mapping[str, object]) -> bool:
    """A custom provider's configuration, and its sessions, need a home of their own."""
    has_home = "config_home" in schema and bool(values.get("config_home"))
    return "config_home" in schema and bool(values.get("base_url")) and not has_home


def _factory(name: str) -> BackendFactory:
    factory = BACKENDS.get(name)
    if factory is None:
        raise unknown_backend(name)
    return factory


def unknown_backend(name: str) -> AgentError:
    """The error for an agent name plait has no backend for: the closest one first."""
    known = ", ".join(sorted(BACKENDS))
    close = difflib.get_close_matches(name.lower(), list(BACKENDS), n=1)
    hint = f"did you mean {close[0]!r}? (agents: {known})" if close else f"use one of: {known}"
    return AgentError(f"unknown agent backend {name!r}", hint=hint)


def _unchecked(name: str, factory: BackendFactory, options: dict[str, Any]) -> AgentBackend:
    try:
        return factory(**options)
    except TypeError as exc:
        raise UsageError(
            f"bad options for agent backend {name!r}: {exc}",
            hint="check the agent settings of the project",
        ) from exc
