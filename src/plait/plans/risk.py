"""`[risk]` in plait.toml: how risky a PR is, from the paths it touches and its size.

    [risk]
    human = ["migrations/**", "*.sql"]   # touching one of these: a person merges
    double_check = ["src/auth/**"]       # touching one of these: a second reviewer too
    double_check_reviewer = "codex"      # who gives that second verdict ("agent/model")
    max_files = 20                       # more files than this: a person merges
    max_lines = 800                      # more changed lines than this: a person merges

Tiers: `human` (plait keeps the PR green and leaves the merge to a person), then
`double-check` (a second reviewer agent must approve too), then `low` (plait merges when
CI and review allow). Globs are fnmatch patterns on the repository path, where `*` also
crosses folders. The core's merge gate routes by tier (`plait.core.risk_gate`). Pure.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from plait.core.model import Reviewer, RiskRules
from plait.plans.executor import ProblemSink
from plait.plans.tomlpos import toml_text

TIERS = ("low", "double-check", "human")
PREFIX = "plait:risk-"  # the PR label of a tier: plait:risk-<tier>


def is_risk_label(name: str) -> bool:
    """A tier's PR label (`plait:risk-<tier>`), the one a new assessment replaces."""
    return name.startswith(PREFIX)


_GLOBS = (list, 'a list of path patterns, e.g. ["migrations/**"]')
KEYS: dict[str, tuple[type, str]] = {
    "human": _GLOBS,
    "double_check": _GLOBS,
    "max_files": (int, "a whole number of at least 1"),
    "max_lines": (int, "a whole number of at least 1"),
    "double_check_reviewer": (str, 'an agent, or "agent/model", e.g. "codex"'),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskConfig:
    human: tuple[str, ...] = ()
    double_check: tuple[str, ...] = ()
    max_files: int = 0  # 0: no limit
    max_lines: int = 0
    double_check_reviewer: str = ""  # "agent" or "agent/model"; "": see risk_gate

    def rules(self) -> RiskRules:
        """The rules as the core's merge gate takes them."""
        agent, _, model = self.double_check_reviewer.partition("/")
        second = (Reviewer(agent=agent, model=model),) if agent else ()
        return RiskRules(
            human=self.human,
            double_check=self.double_check,
            max_files=self.max_files,
            max_lines=self.max_lines,
            second=second,
        )


class Rules(Protocol):
    """What `classify` reads: the config's `RiskConfig` or the core's `RiskRules`."""

    @property
    def human(self) -> tuple[str, ...]: ...
    @property
    def double_check(self) -> tuple[str, ...]: ...
    @property
    def max_files(self) -> int: ...
    @property
    def max_lines(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Risk:
    tier: str
    reason: str = ""


def classify(files: Iterable[tuple[str, int]], cfg: Rules) -> Risk:
    """The tier of a change: `files` are (path, lines changed) pairs."""
    changed = list(files)
    for path, _ in changed:
        if any(fnmatch.fnmatchcase(path, g) for g in cfg.human):
            return Risk("human", f"touches {path}")
    if cfg.max_files and len(changed) > cfg.max_files:
        return Risk("human", f"{len(changed)} files (more than {cfg.max_files})")
    lines = sum(n for _, n in changed)
    if cfg.max_lines and lines > cfg.max_lines:
        return Risk("human", f"{lines} changed lines (more than {cfg.max_lines})")
    for path, _ in changed:
        if any(fnmatch.fnmatchcase(path, g) for g in cfg.double_check):
            return Risk("double-check", f"touches {path}")
    return Risk("low")


def read_risk(sink: ProblemSink, body: dict[str, object]) -> RiskConfig:
    where = ("risk",)
    values: dict[str, Any] = {}
    for key, raw in body.items():
        if key not in KEYS:
            sink.unknown(where, key, list(KEYS))
            continue
        if KEYS[key] is _GLOBS:
            globs = (
                [g for g in raw if isinstance(g, str) and g.strip()]
                if isinstance(raw, list)
                else []
            )
            if not isinstance(raw, list) or len(globs) != len(raw):
                sink.problem(where, key, f"{key} = {toml_text(raw)} is not {_GLOBS[1]}",
                             f"write {key} as {_GLOBS[1]}")  # fmt: skip
                continue
            values[key] = tuple(g.strip() for g in globs)
            continue
        value = sink.value(where, key, raw, KEYS[key])
        if value is not None:
            values[key] = value
    return RiskConfig(**values)
