"""Gameplans (Markdown and JSON) read into a validated `plait.core.plan.Plan`.

Every parser here raises only `plait.errors.PlanError`, carrying every problem it found,
each with the file, a 1-based line and a hint.
"""

from plait.plans.json_plan import parse_json
from plait.plans.load import load_plan, plan_to_json
from plait.plans.markdown import parse_markdown

__all__ = ["load_plan", "parse_json", "parse_markdown", "plan_to_json"]
