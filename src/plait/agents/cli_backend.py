"""What the provider-configurable CLI backends (codex, opencode, pi, gemini) share.

Each runs a binary with a model and extra arguments, and can be aimed at a custom provider
endpoint (`base_url` + `api_key`, for GitHub Enterprise-like setups and for the local
model-API double in tests), keeping that configuration in `config_home`; `max_retries`
caps the CLI's own retries where it has such a knob.
"""

from __future__ import annotations

from collections.abc import Sequence


class ProviderCLI:
    name = ""

    def __init__(
        self,
        executable: str = "",
        model: str = "",
        extra_args: Sequence[str] = (),
        *,
        base_url: str = "",
        api_key: str = "",
        config_home: str = "",
        provider: str = "plait",
        max_retries: int | None = None,
        pass_forge_token: bool = False,
    ) -> None:
        self.executable = executable or self.name
        self.model = model
        self.extra_args = tuple(extra_args)
        self.base_url = base_url
        self.api_key = api_key
        self.config_home = config_home
        self.provider = provider
        self.max_retries = max_retries
        self.pass_forge_token = pass_forge_token
