"""The real agent CLIs, installed and pointed at a `ModelAPIDouble`, for tests and benches.

    bin_dir = agent_clis_bin()                      # runs tools/agent-clis/install once
    backend, env = cli_against(api, "codex", bin_dir, home=tmp / "cfg", base_env=env)
    outcome = asyncio.run(run_turn(backend, spec, base_env=env))
    # or through the whole engine, in a subprocess with `env`:
    options, env = cli_options(api, "codex", bin_dir, home=tmp / "cfg", base_env=env)
    argv = ["plait", "run", "plan.md", *plait_run_args("codex", options)]

`cli_options` knows, per CLI, how to aim it at the double: claude through
`ANTHROPIC_BASE_URL`, codex through a Responses provider, opencode through
`OPENCODE_CONFIG_CONTENT`, pi through `models.json` in its config dir, gemini through
`GOOGLE_GEMINI_BASE_URL`. It also caps each CLI's own retries, so an injected 429 ends the
run quickly instead of being retried for minutes.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from plait.agents.base import AgentBackend

CLIS = ("claude", "codex", "opencode", "pi", "gemini")
MODELS = {
    "claude": "claude-fake",
    "codex": "gpt-fake",
    "opencode": "claude-fake",
    "pi": "claude-fake",
    "gemini": "gemini-fake",
}
# Provider keys of the machine running the tests must never reach a CLI aimed at the
# double (and a real key must never be sent anywhere by a test).
_PROVIDER_VARS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CODEX_HOME",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "OPENCODE_CONFIG",
    "OPENCODE_CONFIG_CONTENT",
)


def repo_root() -> Path | None:
    """The source checkout holding `tools/agent-clis`, or None for an installed plait."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "tools" / "agent-clis" / "install").is_file() else None


class AgentCLIsUnavailable(RuntimeError):
    """The pinned CLIs cannot be installed here (no checkout, no npm, install failed)."""


@functools.cache
def agent_clis_bin() -> Path:
    """Install the pinned CLIs (a no-op once done) and return their `.bin` directory."""
    root = repo_root()
    if root is None:
        raise AgentCLIsUnavailable("not a source checkout: tools/agent-clis/install is missing")
    if shutil.which("npm") is None:
        raise AgentCLIsUnavailable("npm is not installed (Node.js >= 20 is needed)")
    done = subprocess.run(
        [str(root / "tools" / "agent-clis" / "install"), "--quiet"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise AgentCLIsUnavailable(f"tools/agent-clis/install failed: {done.stderr[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def offline_env(base: Mapping[str, str]) -> dict[str, str]:
    """`base` without provider keys/URLs and with telemetry and update checks off."""
    env = {k: v for k, v in base.items() if k not in _PROVIDER_VARS}
    env.update(
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        NO_COLOR="1",
    )
    return env


Option = str | int | float | bool


class ModelAPI(Protocol):
    """Where a model API answers: a `ModelAPIDouble`, here or in a process of its own."""

    @property
    def url(self) -> str: ...


def cli_options(
    api: ModelAPI,
    cli: str,
    bin_dir: Path,
    *,
    home: Path,
    base_env: Mapping[str, str],
    max_retries: int = 0,
) -> tuple[dict[str, Option], dict[str, str]]:
    """The backend options (as `get_backend(cli, options)` takes them, and as
    `plait run --agent CLI` stores them) aiming the real `cli` at `api`, and the base
    environment to run it (or plait) in. `home` holds the CLI's config and sessions."""
    if cli not in CLIS:
        raise ValueError(f"unknown CLI {cli!r}; one of {', '.join(CLIS)}")
    home.mkdir(parents=True, exist_ok=True)
    options: dict[str, Option] = {"executable": str(bin_dir / cli), "model": MODELS[cli]}
    env = offline_env(base_env)
    if cli == "claude":  # Claude Code takes its endpoint and config dir from the env only
        env.update(
            ANTHROPIC_BASE_URL=api.url,
            ANTHROPIC_API_KEY="plait-fake-key",
            CLAUDE_CONFIG_DIR=str(home),
            CLAUDE_CODE_MAX_RETRIES=str(max_retries),
        )
        return options, env
    # codex and opencode want the `/v1` prefix in their base URL; pi and gemini add it.
    base_url = f"{api.url}/v1" if cli in ("codex", "opencode") else api.url
    # plait stores no keys: the option names the variable that holds it.
    env[FAKE_KEY_VAR] = "plait-fake-key"
    options.update(
        base_url=base_url,
        api_key=f"env:{FAKE_KEY_VAR}",
        config_home=str(home),
        max_retries=max_retries,
    )
    return options, env


FAKE_KEY_VAR = "PLAIT_MODEL_API_KEY"


def cli_against(
    api: ModelAPI,
    cli: str,
    bin_dir: Path,
    *,
    home: Path,
    base_env: Mapping[str, str],
    max_retries: int = 0,
) -> tuple[AgentBackend, dict[str, str]]:
    """A backend for the real `cli` aimed at `api`, and the base environment to run it in.

    `home` holds the CLI's config and sessions: reuse it across turns to resume sessions.
    """
    from plait.agents.registry import BACKENDS

    options, env = cli_options(
        api, cli, bin_dir, home=home, base_env=base_env, max_retries=max_retries
    )
    from plait.engine.settings import with_secrets

    backend = BACKENDS[cli](**with_secrets(dict(options), env))
    backend.prepare_home()
    return backend, env


def plait_run_args(cli: str, options: Mapping[str, Option]) -> list[str]:
    """`plait run` flags selecting backend `cli` with `options` (see `cli_options`)."""
    args = ["--agent", cli]
    for key, value in options.items():
        if key == "model":
            args += ["--model", str(value)]
        else:
            text = str(value).lower() if isinstance(value, bool) else str(value)
            args += ["--agent-opt", f"{key}={text}"]
    return args


def cli_version(bin_dir: Path, cli: str) -> str:
    done = subprocess.run(
        [str(bin_dir / cli), "--version"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    return (done.stdout or done.stderr).strip().splitlines()[-1] if done.returncode == 0 else ""
