"""What every agent backend shares, so that a backend is only what is its own.

A backend is its command line (`argv`), its environment hook (`extra_env`, on top of the
clean environment every agent gets) and its stream decoder (`decoder_type`). Its options
are the dataclass fields below and its own, declared with `option()` so that they are
checked and explained from one place (`plait.agents.options`). A backend that needs files
of its own (a provider's config) writes them in `prepare_home()`, which whoever runs turns
calls once before the first: building a backend, e.g. to check a user's options, never
writes anything.

The provider-configurable CLIs (codex, opencode, pi, gemini) can also be aimed at a
custom provider endpoint (`base_url` + `api_key`, for GitHub Enterprise-like setups and
the local model-API double in tests), keeping that configuration in `config_home`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from plait.agents.base import StreamDecoder, TurnSpec
from plait.agents.env import clean_env
from plait.agents.options import ARGUMENTS, COUNT, FLAG, PATH, URL, OptionSpec, option, options_of
from plait.agents.stream import JsonLineDecoder
from plait.errors import UsageError


@dataclass(frozen=True, kw_only=True)
class Backend:
    """A backend: `argv`, `extra_env` and `decoder_type` are what a subclass gives."""

    name: ClassVar[str] = ""
    decoder_type: ClassVar[type[JsonLineDecoder]]
    # Its first turn of a run starts alone (see `agents.base.starts_first_alone`): true
    # unless the CLI is known to start several times at once from a fresh home safely.
    first_start_alone: ClassVar[bool] = True

    pass_forge_token: bool = option(
        False, "let the agent see plait's forge token (agents commit, plait pushes)", FLAG
    )

    @classmethod
    def options(cls) -> dict[str, OptionSpec]:
        return options_of(cls)

    def argv(self, spec: TurnSpec) -> list[str]:
        """The command line (no shell) for one streaming run."""
        raise NotImplementedError

    def env(self, base: Mapping[str, str], spec: TurnSpec) -> dict[str, str]:
        env = clean_env(base, spec, pass_forge_token=self.pass_forge_token)
        # The agent runs in the worktree; an inherited $PWD names plait's directory, and
        # some CLIs (opencode) take their directory from $PWD rather than from their cwd.
        env["PWD"] = spec.workdir
        env.update(self.extra_env(spec, env))
        return env

    def extra_env(self, spec: TurnSpec, env: Mapping[str, str]) -> Mapping[str, str]:
        """Variables this backend sets on top of the clean environment `env`."""
        return {}

    def prepare_home(self) -> None:
        """Write the files the CLI must find before its first turn (none by default)."""

    def decoder(self) -> StreamDecoder:
        return self.decoder_type()


@dataclass(frozen=True, kw_only=True)
class AgentCLI(Backend):
    """An agent CLI from npm: which binary, which model, which extra arguments."""

    executable: str = option("", "the CLI to run: a name on PATH or a path (default: its name)")
    model: str = option("", "the model to ask for (default: the CLI's own choice)")
    extra_args: tuple[str, ...] = option((), "more arguments for every run", ARGUMENTS)

    @property
    def program(self) -> str:
        return self.executable or self.name


@dataclass(frozen=True, kw_only=True)
class ProviderCLI(AgentCLI):
    """An agent CLI that can be aimed at a custom provider endpoint."""

    base_url: str = option("", "a custom provider endpoint for the CLI's model requests", URL)
    api_key: str = option("", "the key sent to base_url", requires="base_url")
    config_home: str = option(
        "",
        "the folder holding the CLI's configuration and sessions (with base_url, by "
        "default <project>/agents/<backend>/)",
        PATH,
    )
    max_retries: int | None = option(
        None, "how often the CLI retries a failed model request", COUNT, requires="base_url"
    )

    def _home(self) -> Path:
        """`config_home`, made: where `prepare_home` writes the custom provider's files."""
        if not self.config_home:
            raise UsageError(
                f"agent {self.name!r} needs config_home to keep base_url's configuration in",
                hint="add --agent-opt config_home=DIR (a project's runs default it to "
                "<project>/agents/<backend>/)",
            )
        home = Path(self.config_home)
        home.mkdir(parents=True, exist_ok=True)
        return home


def provider_option() -> Any:
    """The `provider` field of the CLIs whose config names the provider for base_url."""
    return option("plait", "the provider name base_url is registered under", requires="base_url")
