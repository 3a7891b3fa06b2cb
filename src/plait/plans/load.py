"""Reading a gameplan file: pick the format, decode the bytes, parse and validate."""

from __future__ import annotations

import pathlib

from plait.core.plan import Plan
from plait.errors import PlanError, PlanProblem
from plait.plans.json_plan import parse_json
from plait.plans.markdown import parse_markdown

_MARKDOWN_SUFFIXES = (".md", ".markdown")


def load_plan(path: str | pathlib.Path) -> Plan:
    """Read, parse and validate the gameplan at `path`; raises only `PlanError`."""
    name = str(path)
    try:
        data = pathlib.Path(path).read_bytes()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PlanError(
            [
                PlanProblem(
                    name, 0, f"cannot read the plan: {reason}", "check the path and its permissions"
                )
            ]
        ) from None
    text = _decode(data, name)
    suffix = pathlib.Path(name).suffix.lower()
    if suffix in _MARKDOWN_SUFFIXES:
        return parse_markdown(text, name)
    if suffix == ".json" or text.lstrip().startswith("{"):
        return parse_json(text, name)
    return parse_markdown(text, name)


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PlanError(
            [PlanProblem(name, line, "the plan is not UTF-8 text", "save the file as UTF-8")]
        ) from None


def plan_to_json(plan: Plan) -> list[dict[str, object]]:
    """The parsed tasks, for `plait validate --json`."""
    return [
        {"id": t.id, "title": t.title, "class": t.task_class, "depends_on": list(t.depends_on)}
        for t in plan.tasks
    ]
