"""`plait.toml`: a project's settings kept in its repository. Pure: text in, a typed
`ProjectConfig` or a `PlanError` with file:line for every problem out.

    [agent]                 default agent and model, and the default agent's options
    default = "claude"
    model = "sonnet"
    [agents.codex]          options of one backend (model, executable, base_url, …)
    model = "gpt-5.1-codex"
    [classes.INFRA]         a task class: its own agent, model, concurrency cap
    agent = "codex"
    cap = 2
    exclusive = false       # true: one task of the class at a time
    paths = ["infra/**"]    # a task whose branch changes one of these joins the class
                            # (see `plait.core.path_classes`)
    [limits]                max_concurrency, ci_failures, failures, hold_for_dependents
                            (seconds a free slot may wait for a landing task's dependents;
                            0: never); [limits.agents] caps
    [ci]                    command = "make test"
    [worktree]              hook = "scripts/setup.sh", keep = false, ports = ["web"]
    [prompts]               dir = ".plait/prompts" (per-kind overrides, <kind>.md)
    [liveness]              idle_timeout, turn_timeout, cooldown, poll_interval (seconds)
    [merge]                 delay (seconds), stacked (bool), sync = "rebase" | "merge"
    [project]               main = "main", branch_prefix = "plait"
    [container]             image = "ghcr.io/me/agents:1" (agents run inside), engine
    [notify]                tell people: on = ["attention", "ready", "budget", "idle",
                            "finished"], desktop (notify-send), bell (the TUI's),
                            webhook = "https://…" or "env:NAME", format = "json" | "slack",
                            timeout (seconds), retries
    [budget]                tokens, dollars (the project's); task_tokens, task_dollars
    [conflicts]             warn (bool, early conflict warning), hold (bool: do not start
                            a task whose declared files overlap a task under way)
    [review], [swarm]       reviewer agents; swarm worker groups (plans.swarm_config)
    [issues]                GitHub issues that become tasks (see `plait.plans.issues_config`)
    [risk]                  PR risk tiers from paths and size (see `plait.plans.risk`)
    [executor]              where agent turns run: kind = "temporal", address, task_queue…
                            (see `plait.plans.executor`)

Flags given on the command line win over this file; this file wins over the defaults.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plait.core.model import ReviewConfig
from plait.core.notices import ALL_KINDS
from plait.core.plan import ref_name_problem
from plait.errors import PlanError, PlanProblem
from plait.plans.executor import ExecutorConfig, read_executor
from plait.plans.issues_config import IssuesConfig, read_issues
from plait.plans.risk import RiskConfig, read_risk
from plait.plans.swarm_config import SwarmConfig, read_review, read_swarm
from plait.plans.tomlpos import TomlProblems, toml_text

CONFIG_FILE = "plait.toml"

Scalar = str | int | float | bool

# table → key → (type, what a value must be)
_FLOAT = (float, "a number of seconds greater than 0")
_DELAY = (float, "a number of seconds, 0 or more")
_COUNT = (int, "a whole number of at least 1")
_TEXT = (str, "text")
_BOOL = (bool, "true or false")
_SERVICES = (list, 'a list of service names, e.g. ["web", "db"]')
_DOLLARS = (float, "an amount of dollars greater than 0")
_KINDS = (list, f"a list of: {', '.join(ALL_KINDS)}")
_FORMAT = (str, "json or slack")
_URL = (str, "an http(s) URL, or env:NAME to read it from the environment")
WEBHOOK_FORMATS = ("json", "slack")

_SCHEMA: dict[str, dict[str, tuple[type, str]]] = {
    "project": {"main": _TEXT, "branch_prefix": _TEXT},
    "agent": {"default": _TEXT, "model": _TEXT},
    "limits": {
        "max_concurrency": _COUNT,
        "ci_failures": _COUNT,
        "failures": _COUNT,
        "hold_for_dependents": _DELAY,
    },
    "ci": {"command": _TEXT},
    "worktree": {"hook": _TEXT, "keep": _BOOL, "ports": _SERVICES},
    "prompts": {"dir": _TEXT},
    "liveness": {
        "idle_timeout": _FLOAT,
        "turn_timeout": _FLOAT,
        "cooldown": _FLOAT,
        "poll_interval": _FLOAT,
    },
    "merge": {"delay": _DELAY, "stacked": _BOOL, "sync": _TEXT},
    "container": {"image": _TEXT, "engine": _TEXT},
    "notify": {
        "on": _KINDS,
        "desktop": _BOOL,
        "bell": _BOOL,
        "webhook": _URL,
        "format": _FORMAT,
        "timeout": _FLOAT,
        "retries": _COUNT,
    },
    "budget": {
        "tokens": _COUNT,
        "dollars": _DOLLARS,
        "task_tokens": _COUNT,
        "task_dollars": _DOLLARS,
    },
    "conflicts": {"warn": _BOOL, "hold": _BOOL},
}
# Tables of named entries: [agents.NAME], [classes.NAME], and [agent.options], [limits.agents].
_NESTED = {"agents", "classes"}
# Tables read by plans.swarm_config.
_SWARM_TABLES = {"swarm", "review"}
_CLASS_KEYS: dict[str, tuple[type, str]] = {
    "agent": _TEXT,
    "model": _TEXT,
    "cap": _COUNT,
    "exclusive": _BOOL,
    "paths": (list, 'a list of path patterns, e.g. ["e2e/**"]'),
}
_FIELDS: dict[tuple[str, str], str] = {
    ("project", "main"): "main",
    ("project", "branch_prefix"): "branch_prefix",
    ("agent", "default"): "agent",
    ("agent", "model"): "model",
    ("limits", "max_concurrency"): "max_concurrency",
    ("limits", "ci_failures"): "ci_failure_cap",
    ("limits", "failures"): "failure_cap",
    ("limits", "hold_for_dependents"): "hold_for_dependents",
    ("ci", "command"): "ci_command",
    ("worktree", "hook"): "hook",
    ("worktree", "keep"): "keep_worktrees",
    ("worktree", "ports"): "ports",
    ("prompts", "dir"): "prompts_dir",
    ("liveness", "idle_timeout"): "idle_timeout",
    ("liveness", "turn_timeout"): "turn_timeout",
    ("liveness", "cooldown"): "cooldown",
    ("liveness", "poll_interval"): "poll_interval",
    ("merge", "delay"): "merge_delay",
    ("merge", "stacked"): "stacked",
    ("container", "image"): "container_image",
    ("container", "engine"): "container_engine",
    ("notify", "on"): "notify_on",
    ("notify", "desktop"): "notify_desktop",
    ("notify", "bell"): "notify_bell",
    ("notify", "webhook"): "notify_webhook",
    ("notify", "format"): "notify_format",
    ("notify", "timeout"): "notify_timeout",
    ("notify", "retries"): "notify_retries",
    ("budget", "tokens"): "budget_tokens",
    ("budget", "dollars"): "budget_dollars",
    ("budget", "task_tokens"): "task_budget_tokens",
    ("budget", "task_dollars"): "task_budget_dollars",
    ("conflicts", "warn"): "conflicts_warn",
    ("conflicts", "hold"): "hold_overlapping",
    ("merge", "sync"): "sync",
}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskClass:
    agent: str | None = None
    model: str | None = None
    cap: int | None = None  # exclusive means a cap of 1
    paths: tuple[str, ...] = ()  # a task changing a file matching one joins the class


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectConfig:
    """What plait.toml says; None (or empty) where it says nothing."""

    path: str = ""
    main: str | None = None
    branch_prefix: str | None = None
    agent: str | None = None
    model: str | None = None
    agent_options: Mapping[str, Scalar] = field(default_factory=dict)  # the default agent's
    backends: Mapping[str, Mapping[str, Scalar]] = field(default_factory=dict)  # [agents.X]
    classes: Mapping[str, TaskClass] = field(default_factory=dict)
    max_concurrency: int | None = None
    agent_caps: Mapping[str, int] = field(default_factory=dict)
    ci_failure_cap: int | None = None
    failure_cap: int | None = None
    hold_for_dependents: float | None = None  # seconds (see plait.core.holding)
    ci_command: str | None = None
    hook: str | None = None
    keep_worktrees: bool | None = None
    ports: tuple[str, ...] = ()  # services every task gets a port for (PLAIT_PORT_<NAME>)
    container_image: str | None = None  # run every agent inside this image
    container_engine: str | None = None  # docker | podman (default: whichever answers)
    prompts_dir: str | None = None
    idle_timeout: float | None = None
    turn_timeout: float | None = None
    cooldown: float | None = None
    poll_interval: float | None = None
    merge_delay: float | None = None
    stacked: bool | None = None
    notify: bool = False  # a [notify] table is there: people want to be told things
    notify_on: tuple[str, ...] | None = None
    notify_desktop: bool | None = None
    notify_bell: bool | None = None
    notify_webhook: str | None = None
    notify_format: str | None = None
    notify_timeout: float | None = None
    notify_retries: int | None = None
    budget_tokens: int | None = None
    budget_dollars: float | None = None
    task_budget_tokens: int | None = None
    task_budget_dollars: float | None = None
    conflicts_warn: bool | None = None
    hold_overlapping: bool | None = None
    sync: str | None = None  # how a merge landing takes main's commits: rebase | merge
    review: ReviewConfig | None = None
    swarm: SwarmConfig | None = None
    executor: ExecutorConfig | None = None
    issues: IssuesConfig | None = None  # [issues]: work from a repository's issues
    risk: RiskConfig | None = None  # [risk]: which PRs a person merges

    @property
    def class_caps(self) -> dict[str, int]:
        return {name: c.cap for name, c in self.classes.items() if c.cap is not None}

    @property
    def class_paths(self) -> dict[str, tuple[str, ...]]:
        return {name: c.paths for name, c in self.classes.items() if c.paths}


EMPTY = ProjectConfig()


def parse_config(text: str, path: str = CONFIG_FILE) -> ProjectConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _error_line(str(exc))
        raise PlanError(
            [PlanProblem(path, line, f"not valid TOML: {exc}", "fix the syntax at that line")]
        ) from None
    reader = _Reader(text, path)
    config = reader.read(data)
    if reader.problems:
        raise PlanError(reader.problems)
    return config


def webhook_ok(url: str) -> bool:
    """An http(s) URL, or env:NAME (the URL is read from that variable when sending)."""
    if url.startswith("env:"):
        return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", url[4:]))
    return bool(re.match(r"https?://[^\s/]+", url)) and not any(c.isspace() for c in url)


def _kinds(raw: object) -> tuple[object, bool]:
    """A list of notification kinds, as a tuple; whether it is one."""
    if not isinstance(raw, list) or not all(k in ALL_KINDS for k in raw):
        return raw, False
    return tuple(dict.fromkeys(raw)), True


def _closest_kinds(raw: object) -> str:
    """For a list of kinds with a misspelt one: the kinds meant ("" when none is close)."""
    if not isinstance(raw, list):
        return ""
    unknown = [k for k in raw if isinstance(k, str) and k not in ALL_KINDS]
    close = {k: difflib.get_close_matches(k, ALL_KINDS, n=1) for k in unknown}
    said = [f"{toml_text(k)} → {toml_text(c[0])}" for k, c in close.items() if c]
    return f"did you mean {', '.join(said)}?" if said else ""


def _branch_problem(name: str) -> str:
    """Why git would refuse `name` as (the start of) a branch name ("" when it takes it):
    [project] main and branch_prefix end up in every branch plait makes."""
    if name.startswith("-"):
        return "starts with '-', which git does not allow in a branch name"
    return ref_name_problem(f"refs/heads/{name}") or ""


def _error_line(message: str) -> int:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else 0


class _Reader(TomlProblems):
    # ---- reporting ----------------------------------------------------------------------
    def unknown(self, table: tuple[str, ...], key: str, known: list[str]) -> None:
        where = f"in [{'.'.join(table)}]" if table else "at the top level"
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
        self.problem(table, key, f"unknown key {key!r} {where}", hint)

    # ---- values -----------------------------------------------------------------------------
    def value(self, table: tuple[str, ...], key: str, raw: object, kind: tuple[type, str]) -> Any:
        want, what = kind
        written = raw  # as the file has it, for the problem to quote
        ok = isinstance(raw, want) and not (want is not bool and isinstance(raw, bool))
        if want is float and isinstance(raw, int) and not isinstance(raw, bool):
            raw, ok = float(raw), True
        if ok and want is float and not math.isfinite(float(raw)):  # type: ignore[arg-type]
            ok = False
        if ok and kind in (_FLOAT, _COUNT, _DOLLARS) and not raw > 0:  # type: ignore[operator]
            ok = False
        if ok and kind is _DELAY and not raw >= 0:  # type: ignore[operator]
            ok = False
        if ok and want is str and not str(raw).strip():
            ok = False
        if ok and kind is _SERVICES:
            names = raw if isinstance(raw, list) else []
            ok = all(
                isinstance(n, str) and re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", n) for n in names
            )
            raw = tuple(dict.fromkeys(names))
        if ok and kind is _FORMAT and raw not in WEBHOOK_FORMATS:
            ok = False
        if ok and kind is _URL and not webhook_ok(str(raw)):
            ok = False
        hint = f"write {key} as {what}"
        if ok and kind is _KINDS:
            raw, ok = _kinds(raw)
            hint = _closest_kinds(written) or hint
        if not ok:
            self.problem(table, key, f"{key} = {toml_text(written)} is not {what}", hint)
            return None
        return raw

    def table(self, data: object, name: tuple[str, ...]) -> dict[str, object]:
        if isinstance(data, dict):
            return data
        self.problem(
            name[:-1], name[-1], f"{'.'.join(name)} must be a table", f"write [{'.'.join(name)}]"
        )
        return {}

    # ---- the file -----------------------------------------------------------------------------
    def read(self, data: dict[str, Any]) -> ProjectConfig:
        out: dict[str, Any] = {"path": self.path}
        known_tables = [*_SCHEMA, *_NESTED, *_SWARM_TABLES, "executor", "issues", "risk"]
        text = "\n".join(self.lines)
        for name, body in data.items():
            if name not in known_tables:
                self.unknown((), name, known_tables)
                continue
            if name == "swarm":
                out["swarm"] = read_swarm(body, text, self.path, self.problems)
            if name == "review":
                out["review"] = read_review(body, text, self.path, self.problems)
            if name in _NESTED or name in _SWARM_TABLES:
                continue
            if name == "executor":
                out["executor"] = read_executor(self, self.table(body, (name,)))
                continue
            if name == "issues":
                out["issues"] = read_issues(self, self.table(body, (name,)))
                continue
            if name == "risk":
                out["risk"] = read_risk(self, self.table(body, (name,)))
                continue
            if name == "notify":
                out["notify"] = True
            self._flat(name, self.table(body, (name,)), out)
        out["backends"] = self._backends(data.get("agents", {}))
        out["classes"] = self._classes(data.get("classes", {}))
        return ProjectConfig(**out)

    def _flat(self, name: str, body: dict[str, object], out: dict[str, Any]) -> None:
        schema = _SCHEMA[name]
        for key, raw in body.items():
            if name == "agent" and key == "options":
                out["agent_options"] = self._options((name, key), raw)
                continue
            if name == "limits" and key == "agents":
                out["agent_caps"] = self._caps((name, key), raw)
                continue
            if key not in schema:
                extra = ["options"] if name == "agent" else ["agents"] if name == "limits" else []
                self.unknown((name,), key, [*schema, *extra])
                continue
            value = self.value((name,), key, raw, schema[key])
            if name == "project" and isinstance(value, str) and _branch_problem(value):
                example = "main" if key == "main" else "plait"
                self.problem((name,), key, f"{key} = {toml_text(value)} {_branch_problem(value)}",
                             f'write {key} as a branch name, e.g. {key} = "{example}"')  # fmt: skip
                continue
            if (name, key) == ("merge", "sync") and value not in (None, "rebase", "merge"):
                self.problem((name,), key, f"sync = {toml_text(value)} is not rebase or merge",
                             'write sync = "rebase" or sync = "merge"')  # fmt: skip
                continue
            if value is not None:
                out[_FIELDS[(name, key)]] = value

    def _options(self, where: tuple[str, ...], raw: object) -> dict[str, Scalar]:
        body = self.table(raw, where)
        options: dict[str, Scalar] = {}
        for key, value in body.items():
            if isinstance(value, str | int | float | bool):
                options[key] = value
            else:
                self.problem(where, key, f"option {key} must be text, a number or true/false",
                             f"write {key} = \"…\"")  # fmt: skip
        return options

    def _caps(self, where: tuple[str, ...], raw: object) -> dict[str, int]:
        caps: dict[str, int] = {}
        for key, value in self.table(raw, where).items():
            got = self.value(where, key, value, _COUNT)
            if got is not None:
                caps[key] = int(got)
        return caps

    def _backends(self, raw: object) -> dict[str, dict[str, Scalar]]:
        out: dict[str, dict[str, Scalar]] = {}
        for name, body in self.table(raw, ("agents",)).items():
            out[name] = self._options(("agents", name), body)
        return out

    def _classes(self, raw: object) -> dict[str, TaskClass]:
        out: dict[str, TaskClass] = {}
        for name, body in self.table(raw, ("classes",)).items():
            where = ("classes", name)
            if not _NAME_RE.match(name):
                self.problem(where, None, f"class name {name!r} is not a valid name",
                             "use letters, digits, '.', '-' or '_'")  # fmt: skip
                continue
            values: dict[str, Any] = {}
            for key, value in self.table(body, where).items():
                if key not in _CLASS_KEYS:
                    self.unknown(where, key, list(_CLASS_KEYS))
                    continue
                if key == "paths":
                    values[key] = self._globs(where, key, value)
                    continue
                got = self.value(where, key, value, _CLASS_KEYS[key])
                if got is not None:
                    values[key] = got
            cap = values.get("cap")
            if values.pop("exclusive", False):
                cap = 1
            out[name] = TaskClass(
                agent=values.get("agent"),
                model=values.get("model"),
                cap=cap,
                paths=values.get("paths", ()),
            )
        return out

    def _globs(self, where: tuple[str, ...], key: str, raw: object) -> tuple[str, ...]:
        globs = [g.strip() for g in raw if isinstance(g, str) and g.strip()] if isinstance(
            raw, list) else []  # fmt: skip
        if not isinstance(raw, list) or not globs or len(globs) != len(raw):
            hint = _CLASS_KEYS[key][1]
            self.problem(
                where, key, f"{key} = {toml_text(raw)} is not {hint}", f"write {key} as {hint}"
            )
            return ()
        return tuple(globs)
