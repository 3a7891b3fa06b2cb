"""Connecting to the Temporal server an `[executor]` names, with its TLS and API key.

Secrets stay outside plait's files: certificates are read from the paths plait.toml
gives (on the machine that connects), a Temporal Cloud API key from the environment
variable it names. Every failure is an `ExecutorError` saying what to check.
"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import timedelta
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode, TLSConfig
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from plait.errors import ExecutorError
from plait.plans.executor import ExecutorConfig
from plait.scaleout.routing import WORKER_BEAT

# plait's own modules are passed through the workflow sandbox: the workflow uses only
# workflow APIs, and re-importing plait (asyncio, subprocess, psutil) inside the sandbox
# would only slow every workflow task down.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("plait")
)


def worker_runtime() -> Runtime:
    """A runtime whose workers tell the server they are alive every `WORKER_BEAT`."""
    return Runtime(
        telemetry=TelemetryConfig(), worker_heartbeat_interval=timedelta(seconds=WORKER_BEAT)
    )


class TemporalUnreachable(ExecutorError):
    """The server did not answer (down, or the network between): worth waiting for."""


# What an RPC to a server that went away ends with.
_GONE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def unreachable(exc: BaseException, address: str) -> TemporalUnreachable | None:
    """`exc` as a server out of reach, or None when it is something else."""
    if isinstance(exc, TemporalUnreachable):
        return exc
    if isinstance(exc, RPCError) and exc.status in _GONE:
        return TemporalUnreachable(f"lost Temporal at {address}: {plain(exc.message)}", hint=_HINT)
    return None


# What the SDK's transport says (Rust error structures printed as text), read for what a
# person can act on: the operating system's own message, a name that does not resolve, a
# timeout, a TLS refusal.
_OS_MESSAGE = re.compile(r'message: "([^"]+)"')
_DNS = re.compile(r'dns error.*?error: "(?:failed to lookup address information: )?([^"]+)"')
_TIMEOUT = re.compile(r"deadline has elapsed|timed out|timeout", re.IGNORECASE)
_TLS = re.compile(r"certificate|tls|handshake|ssl", re.IGNORECASE)


def plain(text: str) -> str:
    """The transport's error text as a short reason ("connection refused"), or the
    text itself, on one line and cut to 300 characters, when it says something else."""
    flat = " ".join(text.split())
    if found := _DNS.search(flat):
        return f"the host name does not resolve ({found.group(1)})"
    if _TIMEOUT.search(flat):
        return "no answer in time (a firewall, or the wrong port?)"
    if found := _OS_MESSAGE.search(flat):
        return found.group(1)[:1].lower() + found.group(1)[1:]
    if flat.lower().startswith("tcp connect error"):
        return f"nothing answers at that address ({flat[:200]})"
    if _TLS.search(flat) and "Transport" in flat:
        return f"the TLS handshake failed: {flat[:240]}"
    return flat[:300] or "no reason given"


_HINT = (
    "is the server up at that address, with the TLS or API key it wants? "
    "(`temporal server start-dev` runs one to try plait out; docs/scale-out.md)"
)


def check_reachable(config: ExecutorConfig) -> None:
    """Connect once and let go: an engine refuses to start when its Temporal server does
    not answer (exit 8, saying where and how to fix it), rather than failing each turn.
    Called outside any event loop."""
    asyncio.run(connect(config))


async def connect(
    config: ExecutorConfig, *, identity: str | None = None, runtime: Runtime | None = None
) -> Client:
    try:
        return await Client.connect(
            config.address,
            namespace=config.namespace,
            tls=_tls(config),
            api_key=_api_key(config),
            identity=identity,
            runtime=runtime,
        )
    except ExecutorError:
        raise
    except Exception as exc:
        why = plain(str(exc)) if str(exc).strip() else type(exc).__name__
        raise TemporalUnreachable(
            f"cannot reach Temporal at {config.address} (namespace {config.namespace}): {why}",
            hint=_HINT,
        ) from None


def _tls(config: ExecutorConfig) -> TLSConfig | bool:
    if not config.uses_tls:
        return False
    return TLSConfig(
        server_root_ca_cert=_read(config.tls_ca, "tls_ca"),
        client_cert=_read(config.tls_cert, "tls_cert"),
        client_private_key=_read(config.tls_key, "tls_key"),
        domain=config.tls_server_name or None,
    )


def _read(path: str, key: str) -> bytes | None:
    if not path:
        return None
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise ExecutorError(
            f"cannot read {key} {path}: {exc.strerror or exc}",
            hint=f"put the file there on this machine, or fix [executor] {key} in plait.toml",
        ) from None


def _api_key(config: ExecutorConfig) -> str | None:
    if not config.api_key_env:
        return None
    key = os.environ.get(config.api_key_env, "").strip()
    if not key:
        raise ExecutorError(
            f"${config.api_key_env} is empty, and [executor] api_key_env names it",
            hint=f"export {config.api_key_env}=<your Temporal API key> on this machine",
        )
    return key
