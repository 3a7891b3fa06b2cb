"""`plait mission` (and a blueprint's or a schedule's missions) checked and turned into a
`TasksAdded` event. Pure, like `plait.api.commands`.

A mission gets a short id (`m1`, `m2`…) and a readable name (`--name`, else words of
its prompt), both unique in the project and both accepted by every command. Its landing
is "none" unless it says otherwise; it works in a worktree of its own unless given a
directory (`cwd`), where it works as things are, with no branch and so no landing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from plait.api.commands import BadRequest, Command, CommandError, resolve_task
from plait.api.commands import text_field as _text
from plait.core import events as ev
from plait.core.model import RunState
from plait.core.plan import (
    LANDINGS,
    RESTART_POLICIES,
    Restart,
    TaskSpec,
    slugify,
    task_id_problem,
    unique_name,
)

FIELDS = frozenset(
    {
        "prompt", "name", "parent", "agent", "model", "cwd", "landing", "restart",
        "max_restarts", "window", "backoff", "activity_timeout", "allowed_tools", "ports",
        "lead", "command", "origin", "id",
    }
)  # fmt: skip
NAME_MAX = 32
TITLE_MAX = 80
_SERVICE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
# Backends that can be told which tools the agent may use.
TOOL_LIMITED_AGENTS = ("claude",)


def add_mission(
    state: RunState, fields: Mapping[str, Any], *, now: float, agents: Sequence[str] = ()
) -> Command:
    spec = mission_spec(state, fields, agents=agents)
    event = ev.TasksAdded(at=now, tasks=(spec,))
    return Command(event, spec.id, f"mission {spec.id} ({spec.name}) started", tasks=(spec.id,))


def mission_spec(
    state: RunState,
    fields: Mapping[str, Any],
    *,
    agents: Sequence[str] = (),
    taken: Sequence[str] = (),
) -> TaskSpec:
    """The TaskSpec of one mission; `taken` are ids and names about to be added beside it."""
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)}", hint=f"use: {', '.join(sorted(FIELDS))}"
        )
    command = _strings(fields, "command")
    prompt = _text(fields, "prompt").strip()
    if not prompt and not command:
        raise BadRequest("a mission needs a prompt", hint='plait mission "what to do"')
    title = _title(prompt or " ".join(command))
    names = _names(state, taken)
    tid = _text(fields, "id") or next_mission_id(names)
    _check_new_name(tid, names, what="id")
    name = _text(fields, "name")
    if name:
        _check_new_name(name, names, what="name")
    else:
        name = unique_name(
            slugify(title, fallback="mission")[:NAME_MAX].strip("-.") or "mission", names
        )
    cwd = _text(fields, "cwd")
    landing = _landing(fields, cwd)
    agent = "command" if command else (_text(fields, "agent") or None)
    if agent is not None and not command and agents and agent not in agents:
        raise BadRequest(f"unknown agent {agent!r}", hint=f"use one of {', '.join(agents)}")
    tools = _strings(fields, "allowed_tools")
    if tools and (agent or state.config.agent) not in TOOL_LIMITED_AGENTS:
        raise BadRequest(
            f"agent {agent or state.config.agent!r} cannot be limited to some tools",
            hint=f"--allowed-tools works with {', '.join(TOOL_LIMITED_AGENTS)} (--agent claude)",
        )
    return TaskSpec(
        id=tid,
        title=title,
        description=prompt,
        agent=agent,
        model=_text(fields, "model") or None,
        landing=landing,
        origin=_text(fields, "origin") or "mission",
        name=name,
        parent=_parent(state, fields),
        restart=restart_of(fields),
        cwd=cwd,
        activity_timeout=_number(fields, "activity_timeout", 0.0, low=0.0),
        allowed_tools=tools,
        ports=_ports(fields),
        command=command,
        template="lead" if fields.get("lead") else "",
    )


def add_team(
    state: RunState, data: Mapping[str, Any], *, now: float, agents: Sequence[str] = ()
) -> Command:
    """A blueprint applied (`plait.plans.blueprint.Blueprint.to_wire`): a team mission
    whose members follow their `depends_on`. Members are `<team id>.<agent>`, named
    `<team name>.<agent>`."""
    members = data.get("members")
    if not isinstance(members, list) or not members:
        raise BadRequest(
            "a team needs members",
            hint='send the blueprint itself, e.g. {"name": "orders-api", "members": [{"name": '
            '"schema", "fields": {"prompt": "…"}, "depends_on": []}]}; `plait apply BLUEPRINT` '
            "sends a blueprint file",
        )
    names = _names(state, ())
    team_id = _text(data, "id") or next_mission_id(names)
    _check_new_name(team_id, names, what="id")
    base = _text(data, "name") or "team"
    team_name = unique_name(base, names | {team_id} if base != team_id else names)
    _check_new_name(team_name, names, what="name")
    ids = {str(m.get("name")): f"{team_id}.{m.get('name')}" for m in members}
    taken = [team_id, team_name]
    specs: list[TaskSpec] = []
    for member in members:
        fields = {**member.get("fields", {}), "id": ids[str(member["name"])],
                  "name": f"{team_name}.{member['name']}", "origin": "blueprint"}  # fmt: skip
        try:
            spec = mission_spec(state, fields, agents=agents, taken=taken)
        except BadRequest as exc:  # which of the blueprint's agents, or it is a riddle
            raise BadRequest(f"agent {member['name']!r}: {exc.message}", hint=exc.hint) from None
        deps = member.get("depends_on") or []
        if any(d not in ids for d in deps):
            raise BadRequest(
                f"member {member['name']!r} depends on an unknown member",
                hint="validate the blueprint",
            )
        spec = replace(spec, parent=team_id, depends_on=tuple(ids[d] for d in deps))
        taken += [spec.id, spec.name]
        specs.append(spec)
    description = _text(data, "description")
    team = TaskSpec(
        id=team_id,
        title=_title(description) if description else f"team {team_name}",
        description=description,
        landing="none",
        origin="blueprint",
        name=team_name,
        parent=_parent(state, data),
        restart=Restart(),
        team=True,
        depends_on=tuple(s.id for s in specs),
    )
    event = ev.TasksAdded(at=now, tasks=(team, *specs))
    done = f"team {team_id} ({team_name}) started with {len(specs)} member(s)"
    return Command(event, team_id, done, tasks=(team_id, *(s.id for s in specs)))


def next_mission_id(taken: set[str] | frozenset[str]) -> str:
    n = 1 + sum(1 for t in taken if re.fullmatch(r"m\d+", t))
    while f"m{n}" in taken:
        n += 1
    return f"m{n}"


def restart_of(fields: Mapping[str, Any]) -> Restart:
    policy = _text(fields, "restart") or "never"
    if policy not in RESTART_POLICIES:
        raise BadRequest(
            f"unknown restart policy {policy!r}", hint=f"use {' | '.join(RESTART_POLICIES)}"
        )
    default = Restart()
    max_restarts = fields.get("max_restarts", default.max_restarts)
    if isinstance(max_restarts, bool) or not isinstance(max_restarts, int) or max_restarts < 0:
        raise BadRequest(
            "`max_restarts` must be a whole number, 0 or more", hint="--max-restarts 3"
        )
    return Restart(
        policy=policy,
        max_restarts=max_restarts,
        window=_number(fields, "window", default.window, low=0.0, strict=True),
        backoff=_number(fields, "backoff", default.backoff, low=0.0),
    )


def _names(state: RunState, taken: Sequence[str]) -> set[str]:
    """Every id and name in use: a new one must differ from all of them."""
    names = set(state.specs) | set(taken)
    names.update(s.name for s in state.specs.values() if s.name)
    return names


def _check_new_name(value: str, names: set[str], *, what: str) -> None:
    problem = task_id_problem(value)
    if problem:
        raise BadRequest(
            f"mission {what} {value!r} {problem}", hint="letters, digits, '.', '-', '_'"
        )
    if value in names:
        raise BadRequest(f"{value!r} is already a task's id or name", hint=f"pick another --{what}")


def _title(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "mission")
    return first if len(first) <= TITLE_MAX else first[: TITLE_MAX - 1].rstrip() + "…"


def _landing(fields: Mapping[str, Any], cwd: str) -> str:
    landing = _text(fields, "landing") or "none"
    if landing not in LANDINGS or landing == "watch":
        choices = " | ".join(x for x in LANDINGS if x != "watch")
        raise BadRequest(f"unknown landing {landing!r}", hint=f"use --landing {choices}")
    if cwd and not cwd.startswith("/"):
        raise BadRequest(
            f"the mission's directory {cwd!r} is not absolute", hint="give a full path"
        )
    if cwd and landing != "none":
        raise BadRequest(
            f"a mission in {cwd} has no branch, so it cannot land as {landing!r}",
            hint="use --worktree for work that lands, or leave --landing out",
        )
    return landing


def _parent(state: RunState, fields: Mapping[str, Any]) -> str:
    ref = _text(fields, "parent")
    if not ref:
        return ""
    parent = resolve_task(state, ref)
    if state.tasks[parent].stopped:
        raise CommandError(
            f"mission {parent} is stopped; it takes no new child missions",
            hint=f"`plait retry {parent}` first",
        )
    return parent


def _ports(fields: Mapping[str, Any]) -> tuple[str, ...]:
    ports = _strings(fields, "ports")
    for service in ports:
        if not _SERVICE.match(service):
            raise BadRequest(
                f"port service name {service!r} is not a name",
                hint="--port web (letters, digits, '-', '_')",
            )
    return tuple(dict.fromkeys(ports))


def _strings(fields: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = fields.get(key) or []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise BadRequest(f"`{key}` must be a list of text", hint=f'"{key}": ["…"]')
    return tuple(value)


def _number(
    fields: Mapping[str, Any], key: str, default: float, *, low: float, strict: bool = False
) -> float:
    value = fields.get(key, default)
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > low if strict else value >= low
    if not ok:
        bound = "greater than" if strict else "at least"
        raise BadRequest(
            f"`{key}` must be a number of seconds {bound} {low:g}",
            hint=f"--{key.replace('_', '-')} 30",
        )
    return float(value)
