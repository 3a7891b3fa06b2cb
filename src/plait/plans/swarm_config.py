"""The `[swarm]` and `[review]` tables of plait.toml (or of a `plait swarm CONFIG.toml`).
Pure: decoded TOML in, typed values or problems at file:line out.

    [swarm]
    tickets = "tasks"          # the folder of ticket files (relative to the repository)
    landing = "merge"          # how queue tasks land: merge | pr
    max_pending = 10           # planners keep this many tasks waiting, no more
    goal = "…"                 # what planners plan towards
    [[swarm.workers]]          # a worker group (repeat the table for more)
    name = "codex"
    agent = "codex"            # backend ("" = the project's default agent)
    model = "gpt-5.1-codex"
    effort = "high"            # reasoning effort, for backends that take one
    prompts = ["prompts/worker.md"]   # files put before each task's prompt
    count = 3                  # workers in the group: claims at a time
    max_cycles = 20            # claims each worker makes at most (0: no limit)
    wait = 0                   # seconds a worker rests between cycles
    claim = 1                  # tasks taken in one cycle (related ones, sharing a file)
    may_plan = false           # its agents may propose follow-up tasks
    max_resumes = 5            # turns without completion before a wrap-up nudge
    [[swarm.planners]]         # a planner group: same keys but may_plan and max_resumes

    [review]
    reviewers = [{agent = "claude", model = "opus"}, {agent = "codex"}]  # a fallback chain
    rounds = 3                 # fix rounds before giving up on a change
    exhausted = "queue"        # then: back to the queue with the notes | "attention"
    prompts = ["prompts/review.md"]
    prs = false                # also judge PR landings

Prompt file paths are relative to the file that names them.
"""

from __future__ import annotations

import math
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from plait.core.model import ReviewConfig, Reviewer, WorkerGroup
from plait.errors import PlanProblem
from plait.plans.tomlpos import toml_text

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_SWARM_KEYS = ("tickets", "landing", "max_pending", "goal", "workers", "planners")
_GROUP_KEYS = (
    "name",
    "agent",
    "model",
    "effort",
    "prompts",
    "count",
    "max_cycles",
    "wait",
    "claim",
    "may_plan",
    "max_resumes",
)
_REVIEW_KEYS = ("reviewers", "rounds", "exhausted", "prompts", "prs")
_REVIEWER_KEYS = ("agent", "model", "effort")


@dataclass(frozen=True, slots=True, kw_only=True)
class SwarmConfig:
    tickets: str = "tasks"
    landing: str = "merge"
    max_pending: int = 10
    goal: str = ""
    workers: tuple[WorkerGroup, ...] = ()
    planners: tuple[WorkerGroup, ...] = ()


def prompt_files(swarm: SwarmConfig | None, review: ReviewConfig | None) -> tuple[str, ...]:
    """Every prompt file the config names (worker and planner groups, the reviewer), as
    joined to the config file's folder."""
    groups = (*swarm.workers, *swarm.planners) if swarm else ()
    return (*(review.prompts if review else ()), *(p for g in groups for p in g.prompts))


class _Where:
    """Problems at the line a key (or an array-of-tables entry's key) is written on."""

    def __init__(self, text: str, path: str, problems: list[PlanProblem]) -> None:
        self.lines = text.splitlines()
        self.path = path
        self.problems = problems

    def line(self, header: str, key: str | None = None, entry: int = 0) -> int:
        seen, inside = -1, False
        for i, raw in enumerate(self.lines, start=1):
            line = raw.split("#", 1)[0].strip()
            if line.startswith("["):
                name = line.strip("[] ")
                inside = name == header
                if inside:
                    seen += 1
                    if key is None and seen == entry:
                        return i
                continue
            if inside and seen == entry and key and line.split("=", 1)[0].strip() == key:
                return i
        top = header.split(".")[0]
        return self.line(top, None) if header != top else 0

    def add(self, header: str, key: str | None, message: str, hint: str, entry: int = 0) -> None:
        self.problems.append(PlanProblem(self.path, self.line(header, key, entry), message, hint))


def read_swarm(raw: object, text: str, path: str, problems: list[PlanProblem]) -> SwarmConfig:
    where = _Where(text, path, problems)
    if not isinstance(raw, dict):
        where.add("swarm", None, "swarm must be a table", "write [swarm]")
        return SwarmConfig()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _SWARM_KEYS:
            where.add(
                "swarm", key, f"unknown key {key!r} in [swarm]", f"known: {', '.join(_SWARM_KEYS)}"
            )
        elif key in ("tickets", "goal"):
            values[key] = _text(where, "swarm", key, value)
        elif key == "landing":
            if value not in ("merge", "pr"):
                where.add(
                    "swarm",
                    key,
                    f"landing = {toml_text(value)} is not merge or pr",
                    'landing = "merge"',
                )
            else:
                values[key] = value
        elif key == "max_pending":
            values[key] = _number(where, "swarm", key, value, minimum=1, whole=True)
    workers = _groups(where, raw.get("workers", []), "swarm.workers", path, planner=False)
    planners = _groups(where, raw.get("planners", []), "swarm.planners", path, planner=True)
    names = [g.name for g in (*workers, *planners)]
    for name in sorted({n for n in names if names.count(n) > 1}):
        where.add("swarm", None, f"two worker groups are named {name!r}", "give each its own name")
    kept = {k: v for k, v in values.items() if v is not None}
    return SwarmConfig(**kept, workers=workers, planners=planners)


def _groups(
    where: _Where, raw: object, header: str, path: str, *, planner: bool
) -> tuple[WorkerGroup, ...]:
    if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
        where.add("swarm", header.split(".")[1], f"{header} must be tables", f"write [[{header}]]")
        return ()
    out = []
    kind = "planner" if planner else "workers"
    for i, entry in enumerate(raw):
        fields: dict[str, Any] = {}
        for key, value in entry.items():
            allowed = _GROUP_KEYS[:-2] if planner else _GROUP_KEYS
            if key not in allowed:
                where.add(header, key, f"unknown key {key!r} in [[{header}]]",
                          f"known: {', '.join(allowed)}", i)  # fmt: skip
                continue
            fields[key] = _group_value(where, header, i, key, value, path)
        name = fields.pop("name", None) or f"{kind}{i + 1 if i else ''}"
        if not _NAME.fullmatch(name):
            where.add(header, "name", f"group name {name!r} is not a valid name",
                      "letters, digits, '.', '-', '_' (at most 32)", i)  # fmt: skip
            continue
        kept = {k: v for k, v in fields.items() if v is not None}
        if planner:
            kept.update(queue="planning", may_plan=True)
        out.append(WorkerGroup(name=name, **kept))
    return tuple(out)


def _group_value(where: _Where, header: str, i: int, key: str, value: object, path: str) -> Any:
    if key in ("name", "agent", "model", "effort"):
        return _text(where, header, key, value, i)
    if key == "prompts":
        return _prompts(where, header, key, value, path, i)
    if key == "may_plan":
        return _flag(where, header, key, value, i)
    if key == "wait":
        return _number(where, header, key, value, minimum=0, whole=False, entry=i)
    minimum = 0 if key == "max_cycles" else 1
    return _number(where, header, key, value, minimum=minimum, whole=True, entry=i)


def read_review(raw: object, text: str, path: str, problems: list[PlanProblem]) -> ReviewConfig:
    where = _Where(text, path, problems)
    if not isinstance(raw, dict):
        where.add("review", None, "review must be a table", "write [review]")
        return ReviewConfig()
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _REVIEW_KEYS:
            where.add(
                "review",
                key,
                f"unknown key {key!r} in [review]",
                f"known: {', '.join(_REVIEW_KEYS)}",
            )
        elif key == "reviewers":
            values[key] = _reviewers(where, value)
        elif key == "rounds":
            values[key] = _number(where, "review", key, value, minimum=0, whole=True)
        elif key == "exhausted":
            if value not in ("queue", "attention"):
                said = f"exhausted = {toml_text(value)} is not queue or attention"
                where.add("review", key, said, 'exhausted = "queue"')
            else:
                values[key] = value
        elif key == "prompts":
            values[key] = _prompts(where, "review", key, value, path)
        else:
            values[key] = _flag(where, "review", key, value)
    return ReviewConfig(**{k: v for k, v in values.items() if v is not None})


def _reviewers(where: _Where, raw: object) -> tuple[Reviewer, ...] | None:
    items = raw if isinstance(raw, list) else None
    if not items or not all(isinstance(r, dict | str) for r in items):
        where.add("review", "reviewers", "reviewers must be a list of {agent, model}",
                  'reviewers = [{agent = "claude", model = "opus"}]')  # fmt: skip
        return None
    out = []
    for item in items:
        entry = {"agent": item} if isinstance(item, str) else item
        unknown = sorted(set(entry) - set(_REVIEWER_KEYS))
        agent = entry.get("agent")
        if unknown or not isinstance(agent, str) or not agent.strip():
            message = f"a reviewer needs an agent (and only {', '.join(_REVIEWER_KEYS)})"
            where.add("review", "reviewers", message, '{agent = "claude", model = "opus"}')
            continue
        out.append(Reviewer(agent=agent.strip(), model=str(entry.get("model") or ""),
                            effort=str(entry.get("effort") or "")))  # fmt: skip
    return tuple(out) or None


# ---- values --------------------------------------------------------------------------------------
def _text(where: _Where, header: str, key: str, value: object, entry: int = 0) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    where.add(header, key, f"{key} = {toml_text(value)} is not text", f'write {key} = "…"', entry)
    return None


def _flag(where: _Where, header: str, key: str, value: object, entry: int = 0) -> bool | None:
    if isinstance(value, bool):
        return value
    where.add(
        header,
        key,
        f"{key} = {toml_text(value)} is not true or false",
        f"write {key} = true",
        entry,
    )
    return None


def _number(
    where: _Where,
    header: str,
    key: str,
    value: object,
    *,
    minimum: float,
    whole: bool,
    entry: int = 0,
) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    ok = ok and math.isfinite(float(value)) and float(value) >= minimum  # type: ignore[arg-type]
    ok = ok and (not whole or isinstance(value, int))
    if ok:
        return value if whole else float(value)  # type: ignore[arg-type]
    what = (
        f"a whole number of at least {int(minimum)}" if whole else f"a number, {minimum:g} or more"
    )
    where.add(
        header, key, f"{key} = {toml_text(value)} is not {what}", f"write {key} as {what}", entry
    )
    return None


def _prompts(
    where: _Where, header: str, key: str, value: object, path: str, entry: int = 0
) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(p, str) and p.strip() for p in items):
        where.add(
            header, key, f"{key} must be a list of file paths", f'{key} = ["prompts/x.md"]', entry
        )
        return None
    base = posixpath.dirname(path)
    return tuple(p if posixpath.isabs(p) else posixpath.join(base, p) for p in items)
