"""The `command` backend: a program run in place of an agent (see plait.agents.commanded)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from plait.agents.base import TurnSpec
from plait.agents.claude import ClaudeStreamDecoder
from plait.agents.cli_backend import Backend

NAME = "command"


@dataclass(frozen=True, kw_only=True)
class CommandBackend(Backend):
    """Runs `program` under the `commanded` wrapper, which speaks Claude Code's stream."""

    name = NAME
    decoder_type = ClaudeStreamDecoder

    program: tuple[str, ...] = ()
    python: str = sys.executable

    def argv(self, spec: TurnSpec) -> list[str]:
        # -P: the workdir must not shadow plait's own modules.
        wrapper = [self.python, "-P", "-m", "plait.agents.commanded", "--task", spec.task_id]
        return [*wrapper, "--", *self.program]

    def extra_env(self, spec: TurnSpec, env: Mapping[str, str]) -> Mapping[str, str]:
        root = str(Path(__file__).resolve().parent.parent.parent)
        paths = [root, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        return {"PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}
