"""Blueprints: a team of agents in a TOML file. Pure: text in, a `Blueprint` or a
`PlanError` with file:line and a fix for every problem out.

    name = "api-team"                 # optional: the team's name (default: the file's)
    description = "Add the orders API"

    [vars]                            # defaults for `plait apply F --var key=value`
    resource = "orders"

    [agents.schema]                   # one named agent per table
    prompt = "Design the ${resource} table"
    agent = "claude"                  # optional: the backend (default: the project's)
    model = "sonnet"                  # optional
    worktree = true                   # (default) or: cwd = "/abs/path" (work in place)
    landing = "none"                  # none (default) | pr
    restart = "on-failure"            # never (default) | on-failure | always
    max_restarts = 3                  # the budget: restarts within `window` seconds
    window = 600
    backoff = 1.0                     # seconds before the first restart, doubling
    activity_timeout = 300            # seconds of silence before the agent is stopped
    allowed_tools = ["Read", "Edit"]
    ports = ["web"]

    [agents.api]
    prompt = "Build the ${resource} API on the schema"
    depends_on = ["schema"]

    [agents.server]
    command = ["npm", "run", "dev"]   # a program instead of an agent (or one string)

`plait apply` turns it into a team mission whose members follow the `depends_on` DAG,
independent ones in parallel. `${name}` in a prompt, command or cwd is a variable.
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from string import Template
from typing import Any

from plait.core.graph import has_cycle
from plait.core.plan import RESTART_POLICIES, PlanProblem, TaskSpec, task_id_problem
from plait.errors import PlanError
from plait.plans.tomlpos import TomlProblems, toml_text

LANDINGS = ("none", "pr", "merge")
_TOP = ("name", "description", "vars", "agents")
_TEXT = "text"
_STRINGS = "a list of text"
_SECONDS = "a number of seconds, 0 or more"
_AGENT_KEYS: dict[str, str] = {
    "prompt": _TEXT,
    "command": "a list of text, or one line of text",
    "agent": _TEXT,
    "model": _TEXT,
    "cwd": "an absolute path",
    "worktree": "true or false",
    "landing": " | ".join(LANDINGS),
    "restart": " | ".join(RESTART_POLICIES),
    "max_restarts": "a whole number, 0 or more",
    "window": "a number of seconds greater than 0",
    "backoff": _SECONDS,
    "activity_timeout": _SECONDS,
    "allowed_tools": _STRINGS,
    "ports": _STRINGS,
    "depends_on": _STRINGS,
}
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """One agent of the team: the mission fields `plait.api.missions` takes."""

    name: str
    fields: Mapping[str, Any]  # prompt/command, agent, model, cwd, landing, restart…
    depends_on: tuple[str, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Blueprint:
    name: str
    description: str = ""
    members: tuple[Member, ...] = ()
    source: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "members": [
                {"name": m.name, "fields": dict(m.fields), "depends_on": list(m.depends_on)}
                for m in self.members
            ],
        }


def parse_blueprint(
    text: str, path: str = "blueprint.toml", *, variables: Mapping[str, str] | None = None
) -> Blueprint:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else 0
        raise PlanError(
            [PlanProblem(path, line, f"not valid TOML: {exc}", "fix the syntax at that line")]
        ) from None
    reader = _Reader(text, path)
    blueprint = reader.read(data, dict(variables or {}))
    if reader.problems:
        raise PlanError(reader.problems)
    return blueprint


def default_name(path: str) -> str:
    stem = re.sub(r"\.toml$", "", path.rsplit("/", 1)[-1])
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "team"


class _Reader(TomlProblems):
    # ---- the file --------------------------------------------------------------------------
    def read(self, data: dict[str, Any], given: dict[str, str]) -> Blueprint:
        for key in data:
            if key not in _TOP:
                self._unknown((), key, list(_TOP))
        name = data.get("name", default_name(self.path))
        if not isinstance(name, str) or task_id_problem(name):
            why = task_id_problem(name) if isinstance(name, str) else "is not text"
            self.problem(
                (), "name", f"the team's name {name!r} {why}", "letters, digits, '.', '-', '_'"
            )
            name = default_name(self.path)
        description = data.get("description", "")
        if not isinstance(description, str):
            self.problem((), "description", "description must be text", 'description = "…"')
            description = ""
        declared = self._vars(data.get("vars", {}))
        variables = {**declared, **given}
        agents = data.get("agents")
        if not isinstance(agents, dict) or not agents:
            self.problem(
                (),
                "agents",
                "a blueprint needs at least one agent",
                'add [agents.NAME] with prompt = "…"',
            )
            agents = {}
        self.used: set[str] = set()
        members = [self._member(n, body, variables) for n, body in agents.items()]
        kept = tuple(m for m in members if m is not None)
        self._check_given(given, declared=set(declared))
        self._check_graph(kept)
        return Blueprint(
            name=name, description=description, members=kept, source=self.path, variables=variables
        )

    def _check_given(self, given: Mapping[str, str], *, declared: set[str]) -> None:
        """A --var the blueprint neither declares nor uses is a typo, not a no-op."""
        known = sorted(declared | self.used)
        for name in given:
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"its variables: {', '.join(known) or 'none'}"
            if close:
                hint = f"did you mean --var {close[0]}=…? ({hint})"
            self.problem((), "vars", f"--var {name}: the blueprint has no variable {name!r}", hint)

    def _unknown(self, table: tuple[str, ...], key: str, known: list[str]) -> None:
        where = f"in [{'.'.join(table)}]" if table else "at the top level"
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(sorted(known))}"
        self.problem(table, key, f"unknown key {key!r} {where}", hint)

    def _vars(self, raw: object) -> dict[str, str]:
        if not isinstance(raw, dict):
            self.problem((), "vars", "vars must be a table", 'write [vars] with key = "value"')
            return {}
        out: dict[str, str] = {}
        for key, value in raw.items():
            if not _VAR.match(key) or isinstance(value, dict | list):
                self.problem(
                    ("vars",),
                    key,
                    f"variable {key!r} must be a name = a value",
                    'resource = "orders"',
                )
                continue
            out[key] = str(value).lower() if isinstance(value, bool) else str(value)
        return out

    # ---- one agent ---------------------------------------------------------------------------
    def _member(self, name: str, body: object, variables: Mapping[str, str]) -> Member | None:
        where = ("agents", name)
        problem = task_id_problem(name)
        if problem:
            self.problem(
                where, None, f"agent name {name!r} {problem}", "letters, digits, '.', '-', '_'"
            )
            return None
        if not isinstance(body, dict):
            self.problem(
                ("agents",), name, f"agents.{name} must be a table", f"write [agents.{name}]"
            )
            return None
        fields: dict[str, Any] = {}
        for key, raw in body.items():
            if key not in _AGENT_KEYS:
                self._unknown(where, key, list(_AGENT_KEYS))
                continue
            value = self._value(where, key, raw, variables)
            if value is not None:
                fields[key] = value
        return self._shape(where, name, fields)

    def _value(
        self, where: tuple[str, ...], key: str, raw: object, variables: Mapping[str, str]
    ) -> Any:
        what = _AGENT_KEYS[key]
        value = _typed(key, raw)
        if value is None:
            self.problem(
                where, key, f"{key} = {toml_text(raw)} is not {what}", f"write {key} as {what}"
            )
            return None
        if key in ("prompt", "cwd"):
            return self._fill(where, key, str(value), variables)
        if key == "command":
            return [self._fill(where, key, part, variables) for part in value]
        return value

    def _fill(
        self, where: tuple[str, ...], key: str, text: str, variables: Mapping[str, str]
    ) -> str:
        template = Template(text)
        if template.is_valid():
            self.used.update(template.get_identifiers())
        try:
            return template.substitute(variables)
        except KeyError as exc:
            name = exc.args[0]
            self.problem(where, key, f"{key} uses ${{{name}}}, which no variable sets",
                         f'add {name} = "…" under [vars], or pass --var {name}=…')  # fmt: skip
        except ValueError as exc:
            self.problem(where, key, f"{key} has a stray $: {exc}", "write $$ for a literal $")
        return text

    def _shape(self, where: tuple[str, ...], name: str, fields: dict[str, Any]) -> Member | None:
        has_prompt, has_command = bool(fields.get("prompt", "").strip()), "command" in fields
        if has_prompt == has_command:
            self.problem(where, None, f"agent {name!r} needs a prompt or a command, not both"
                         if has_prompt else f"agent {name!r} has neither a prompt nor a command",
                         'prompt = "what to do", or command = ["make", "serve"]')  # fmt: skip
        if "cwd" in fields and fields.pop("worktree", False):
            self.problem(where, "cwd", "cwd and worktree = true exclude each other", "keep one")
        fields.pop("worktree", None)
        if "cwd" in fields and not str(fields["cwd"]).startswith("/"):
            self.problem(
                where, "cwd", f"cwd {fields['cwd']!r} is not an absolute path", 'cwd = "/abs/path"'
            )
        if "cwd" in fields and fields.get("landing", "none") != "none":
            self.problem(where, "landing", "an agent working in cwd has no branch to land",
                         'drop cwd (it then gets a worktree), or landing = "none"')  # fmt: skip
        depends = tuple(fields.pop("depends_on", ()))
        return Member(name=name, fields=fields, depends_on=depends, line=self.line_of(where))

    def _check_graph(self, members: tuple[Member, ...]) -> None:
        names = {m.name for m in members}
        for m in members:
            for dep in m.depends_on:
                if dep == m.name:
                    self.problem(
                        ("agents", m.name),
                        "depends_on",
                        f"agent {m.name!r} depends on itself",
                        "remove it",
                    )
                elif dep not in names:
                    close = difflib.get_close_matches(dep, sorted(names), n=1)
                    hint = (
                        f"did you mean {close[0]!r}?"
                        if close
                        else f"agents: {', '.join(sorted(names))}"
                    )
                    self.problem(
                        ("agents", m.name),
                        "depends_on",
                        f"agent {m.name!r} depends on unknown agent {dep!r}",
                        hint,
                    )
        specs = [
            TaskSpec(
                id=m.name, title=m.name, depends_on=tuple(d for d in m.depends_on if d in names)
            )
            for m in members
        ]
        if has_cycle(specs):
            where = next(m for m in members if m.depends_on)
            hint = "make sure some agent depends on nothing, and no chain comes back"
            self.problem(
                ("agents", where.name), "depends_on", "the agents' depends on form a cycle", hint
            )


def _typed(key: str, raw: object) -> Any:
    """`raw` as the type `key` wants, or None when it is not one."""
    if key in ("prompt", "agent", "model", "cwd", "landing", "restart"):
        ok = isinstance(raw, str) and (key == "prompt" or bool(raw.strip()))
        if ok and key == "landing":
            ok = raw in LANDINGS
        if ok and key == "restart":
            ok = raw in RESTART_POLICIES
        return raw if ok else None
    if key == "command":
        if isinstance(raw, str):
            try:
                raw = shlex.split(raw)
            except ValueError:
                return None
        return list(raw) if isinstance(raw, list) and _strings(raw) and raw else None
    if key in ("allowed_tools", "ports", "depends_on"):
        return list(raw) if isinstance(raw, list) and _strings(raw) else None
    if key == "worktree":
        return raw if isinstance(raw, bool) else None
    if key == "max_restarts":
        return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else None
    number = isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw)
    if not number:
        return None
    value = float(raw)  # type: ignore[arg-type]
    return value if (value > 0 if key == "window" else value >= 0) else None


def _strings(raw: object) -> bool:
    return isinstance(raw, list) and all(isinstance(x, str) and x for x in raw)
