"""Backend options: what each agent backend can be told, and how a value is checked.

A backend declares its options as dataclass fields made with `option(default, help, kind)`;
`options_of(cls)` reads them back as `OptionSpec`s — name, kind, default, help — which is
what `plait.agents.registry.backend_options` returns, and what `--agent-opt`, `plait.toml`
and `--help` are checked against and explained with. `parse_options` turns the values a
user wrote into the typed values a backend takes, or a `UsageError` that names the option
and says how to fix it. Values arrive as text (`--agent-opt KEY=VALUE`) or as what a
parser already made of them (TOML, or the CLI's guess that "3" is a number), so every kind
accepts both.
"""

from __future__ import annotations

import difflib
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit

from plait.errors import UsageError


class BadValue(ValueError):
    """A value an option's kind refuses (the message says what was expected)."""


@dataclass(frozen=True, slots=True)
class Kind:
    """How an option's value is written: `label` and `example` for people, `convert` to
    turn a given value into the typed one (raising BadValue)."""

    label: str
    example: str
    convert: Callable[[object], object]


def _text(value: object) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, int | float):  # the CLI read "4" as a number; the text is meant
        text = str(value)
    else:
        raise BadValue("expected text")
    if "\0" in text:
        raise BadValue("text cannot hold a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadValue("expected text that is valid UTF-8") from None
    return text


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in (*_TRUE, *_FALSE):
        return value.strip().lower() in _TRUE
    raise BadValue("expected true or false")


def _count(value: object) -> int:
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadValue("expected a whole number, 0 or more")
    return value


def _arguments(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:  # an unclosed quote
            raise BadValue(f"cannot split into arguments: {exc}") from None
    elif isinstance(value, list | tuple):
        words = list(value)
    else:
        raise BadValue("expected arguments, written as one shell-quoted string")
    if not all(isinstance(word, str) for word in words):
        raise BadValue("expected arguments, each one text")
    return tuple(_text(word) for word in words)


def _path(value: object) -> str:
    text = _text(value)
    # Absolute: plait writes there from its own directory, the agent reads from its worktree.
    return os.path.abspath(os.path.expanduser(text)) if text.strip() else ""


def _url(value: object) -> str:
    text = _text(value)
    if not text:
        return ""
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise BadValue("expected an http:// or https:// URL with a host")
    return text


TEXT = Kind("text", "sonnet", _text)
FLAG = Kind("true or false", "true", _flag)
COUNT = Kind("a whole number", "3", _count)
ARGUMENTS = Kind("arguments", "'--verbose --debug'", _arguments)
PATH = Kind("a path", "~/agent-home", _path)
URL = Kind("an http(s) URL", "http://127.0.0.1:8080", _url)


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionSpec:
    """One option of an agent backend, as declared by the backend."""

    name: str
    kind: Kind
    default: object
    help: str
    requires: str = ""  # another option without which this one has no effect

    def parse(self, value: object, *, backend: str) -> object:
        """The typed value of `value`, or a UsageError naming this option and the fix."""
        try:
            return self.kind.convert(value)
        except BadValue as exc:
            raise UsageError(
                f"agent {backend!r}: option {self.name}={_show(value)} is not valid: {exc}",
                hint=f"write it as {self.kind.label}, e.g. --agent-opt "
                f"{self.name}={self.kind.example} ({self.help})",
            ) from None


def option(default: Any, help: str, kind: Kind = TEXT, *, requires: str = "") -> Any:
    """A backend dataclass field that is also a user-facing option."""
    return field(default=default, metadata={"help": help, "kind": kind, "requires": requires})


def options_of(cls: type) -> dict[str, OptionSpec]:
    """The options a backend dataclass declares, in declaration order."""
    return {
        f.name: OptionSpec(
            name=f.name,
            kind=f.metadata["kind"],
            default=f.default,
            help=f.metadata["help"],
            requires=f.metadata["requires"],
        )
        for f in fields(cls)
        if "help" in f.metadata
    }


def parse_options(
    backend: str, schema: Mapping[str, OptionSpec], given: Mapping[str, object]
) -> dict[str, object]:
    """The typed values of `given`, checked against `schema` (UsageError on any problem)."""
    values: dict[str, object] = {}
    for key, value in given.items():
        spec = schema.get(key)
        if spec is None:
            raise unknown_option(backend, schema, key)
        values[key] = spec.parse(value, backend=backend)
    for key, value in values.items():
        needed = schema[key].requires
        if needed and value not in ("", None) and not values.get(needed):
            raise UsageError(
                f"agent {backend!r}: option {key} has no effect without {needed}",
                hint=f"add --agent-opt {needed}={schema[needed].kind.example}, or drop {key}",
            )
    return values


def unknown_option(backend: str, schema: Mapping[str, OptionSpec], key: object) -> UsageError:
    name = key if isinstance(key, str) else repr(key)
    valid = ", ".join(schema) or "none"
    close = difflib.get_close_matches(name, list(schema), n=1)
    guess = f"did you mean {close[0]}? " if close else ""
    return UsageError(
        f"agent {backend!r} has no option {_show(name)}",
        hint=f"{guess}its options: {valid} (as --agent-opt KEY=VALUE)",
    )


def _show(value: object) -> str:
    text = value if isinstance(value, str) and value.isprintable() else repr(value)
    return text if len(text) <= 80 else text[:80] + "…"
