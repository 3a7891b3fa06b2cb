"""Where agent turns run: the `[executor]` table of plait.toml and the `--executor` flag.

    [executor]
    kind = "temporal"              # local (this machine, the default) | temporal (workers)
    address = "temporal.internal:7233"
    namespace = "default"
    task_queue = "plait"           # the queue `plait worker --queue` serves
    remote = "git@host:org/repo"   # where workers fetch and push (default: see the guide)
    heartbeat_timeout = 30         # seconds without a heartbeat before a worker is lost
    tls = true                     # also implied by any tls_* key below
    tls_ca = "/etc/plait/ca.pem"
    tls_cert = "/etc/plait/client.pem"
    tls_key = "/etc/plait/client.key"
    tls_server_name = "temporal.internal"
    api_key_env = "TEMPORAL_API_KEY"   # the variable holding a Temporal Cloud API key

Pure: values in, an `ExecutorConfig` or problems with file:line out. Secrets never live
here: a key is named by its environment variable, certificates by their paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from plait.errors import UsageError
from plait.plans.tomlpos import toml_text

EXECUTOR_KINDS = ("local", "temporal")

_QUEUE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST_RE = re.compile(r"^[A-Za-z0-9._-]+$|^\[[0-9A-Fa-f:.]+\]$")

_TEXT = (str, "text")
_SECONDS = (float, "a number of seconds greater than 0")
_BOOL = (bool, "true or false")

KEYS: dict[str, tuple[type, str]] = {
    "kind": _TEXT,
    "address": _TEXT,
    "namespace": _TEXT,
    "task_queue": _TEXT,
    "remote": _TEXT,
    "heartbeat_timeout": _SECONDS,
    "tls": _BOOL,
    "tls_ca": _TEXT,
    "tls_cert": _TEXT,
    "tls_key": _TEXT,
    "tls_server_name": _TEXT,
    "api_key_env": _TEXT,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorConfig:
    kind: str = "local"
    address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "plait"
    remote: str = ""  # empty: the project's repository (local forge) or its forge remote
    heartbeat_timeout: float = 30.0
    tls: bool = False
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_server_name: str = ""
    api_key_env: str = ""

    @property
    def url(self) -> str:
        """The flag form, for messages and `plait workers`."""
        if self.kind == "local":
            return "local"
        suffix = "" if self.namespace == "default" else f"?namespace={self.namespace}"
        return f"temporal://{self.address}/{self.task_queue}{suffix}"

    @property
    def uses_tls(self) -> bool:
        return self.tls or bool(self.tls_ca or self.tls_cert or self.tls_server_name)


LOCAL = ExecutorConfig()


class ProblemSink(Protocol):
    """Where `read_executor` reports (plait.toml's reader: it knows the lines)."""

    def value(
        self, table: tuple[str, ...], key: str, raw: object, kind: tuple[type, str]
    ) -> Any: ...

    def problem(self, table: tuple[str, ...], key: str | None, message: str, hint: str) -> None: ...

    def unknown(self, table: tuple[str, ...], key: str, known: list[str]) -> None: ...


def read_executor(sink: ProblemSink, body: dict[str, object]) -> ExecutorConfig:
    """The `[executor]` table; each problem goes to `sink` with the key it is about."""
    where = ("executor",)
    values: dict[str, Any] = {}
    for key, raw in body.items():
        if key not in KEYS:
            sink.unknown(where, key, list(KEYS))
            continue
        value = sink.value(where, key, raw, KEYS[key])
        if value is None:
            continue
        why = _problem(key, value)
        if why:
            sink.problem(where, key, f"{key} = {toml_text(raw)} {why[0]}", why[1])
            continue
        values[key] = value
    config = ExecutorConfig(**values)
    if bool(config.tls_cert) != bool(config.tls_key):
        sink.problem(where, "tls_cert" if config.tls_cert else "tls_key",
                     "tls_cert and tls_key go together (a client certificate and its key)",
                     "give both paths, or neither")  # fmt: skip
    return config


def _problem(key: str, value: Any) -> tuple[str, str] | None:
    """(what is wrong, how to fix it) for one value, or None when it is fine."""
    if key == "kind" and value not in EXECUTOR_KINDS:
        return "is not an executor", f"write kind = one of {', '.join(EXECUTOR_KINDS)}"
    if key == "address" and address_problem(value):
        return address_problem(value), 'write address = "HOST:PORT", e.g. "localhost:7233"'
    if key == "task_queue" and not _QUEUE_RE.match(value):
        return "is not a queue name", "use letters, digits, '.', '-' or '_' (at most 100)"
    if key == "namespace" and not _QUEUE_RE.match(value):
        return "is not a namespace name", "use letters, digits, '.', '-' or '_'"
    if key == "api_key_env" and not _ENV_RE.match(value):
        return "is not an environment variable name", 'name the variable, e.g. "TEMPORAL_API_KEY"'
    return None


def address_problem(address: str) -> str:
    """Why `address` is not HOST:PORT ("" when it is)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not _HOST_RE.match(host):
        return "is not HOST:PORT"
    if not port.isdecimal() or not 0 < int(port) < 65536:
        return "has no port between 1 and 65535"
    return ""


def executor_from_flag(text: str, base: ExecutorConfig = LOCAL) -> ExecutorConfig:
    """`--executor local` or `--executor temporal://HOST:PORT/QUEUE[?namespace=NS]`, over
    what plait.toml says (TLS and the other keys stay as it set them)."""
    hint = "use --executor local or --executor temporal://HOST:PORT/QUEUE"
    if text == "local":
        return replace(base, kind="local")
    parts = urlsplit(text)
    if parts.scheme != "temporal" or not parts.netloc:
        raise UsageError(f"--executor {text!r} is not an executor", hint=hint)
    if address_problem(parts.netloc):
        raise UsageError(f"--executor {text!r}: {parts.netloc!r} is not HOST:PORT", hint=hint)
    queue = parts.path.strip("/") or base.task_queue
    if not _QUEUE_RE.match(queue):
        raise UsageError(f"--executor {text!r}: {queue!r} is not a queue name", hint=hint)
    namespace = parse_qs(parts.query).get("namespace", [base.namespace])[0]
    if not _QUEUE_RE.match(namespace):
        raise UsageError(f"--executor {text!r}: {namespace!r} is not a namespace", hint=hint)
    return replace(
        base, kind="temporal", address=parts.netloc, task_queue=queue, namespace=namespace
    )
