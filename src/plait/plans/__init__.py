"""Gameplans (Markdown and JSON) read into a validated `plait.core.plan.Plan`.

Every parser here raises only `plait.errors.PlanError`, carrying every problem it found,
each with the file, a 1-based line and a hint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plait.lazy import attributes

if TYPE_CHECKING:
    from plait.plans.json_plan import parse_json
    from plait.plans.load import load_plan, plan_to_json
    from plait.plans.markdown import parse_markdown

# The parsers load on first use: a project's settings (`plait.plans.config`) and the API's
# checks (`plait.plans.characters`) live in this package too, and `plait ps`, `logs` and
# `send` read no plan.
_LATER = {
    "load_plan": "plait.plans.load",
    "parse_json": "plait.plans.json_plan",
    "parse_markdown": "plait.plans.markdown",
    "plan_to_json": "plait.plans.load",
}

__getattr__ = attributes(__name__, _LATER)


__all__ = ["load_plan", "parse_json", "parse_markdown", "plan_to_json"]
