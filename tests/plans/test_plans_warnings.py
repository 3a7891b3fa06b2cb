"""Warnings: a plan that runs but probably says less than its author meant."""

from __future__ import annotations

import json
import pathlib

from plait.core.plan import PlanProblem
from plait.plans import parse_json, parse_markdown
from tests.cli.helpers_cli import plait

MD = """\
# Plan
## Patches
### Patch 1: Has a body
Do the thing.
### Patch 2: Only a dependency
Depends on: 1
### Patch 3: Nothing at all

### Patch 4: Body in a code block
```
make it so
```
"""


def test_a_markdown_patch_with_an_empty_body_is_a_warning_at_its_header() -> None:
    plan = parse_markdown(MD, "p.md")
    assert plan.ids == ("1", "2", "3", "4")
    assert [(w.line, w.message) for w in plan.warnings] == [
        (5, "patch '2' has an empty body"),
        (7, "patch '3' has an empty body"),
    ]
    assert plan.warnings[0].render().startswith("p.md:5: patch '2' has an empty body — write")


def test_a_json_patch_with_nothing_for_the_agent_is_a_warning() -> None:
    doc = {
        "projectName": "x",
        "patches": [{"number": 1, "title": "Empty"}, {"number": 2, "title": "S", "spec": "do"}],
    }
    plan = parse_json(json.dumps(doc, indent=1), "p.json")
    assert plan.warnings == (
        PlanProblem(
            "p.json",
            4,
            "patch '1' has an empty body",
            "say what the agent should do in 'changes', 'files' or 'spec'; the title alone "
            "is all it gets",
        ),
    )


def test_plait_validate_prints_warnings_and_still_exits_0(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "p.md"
    path.write_text(MD)
    text = plait("validate", str(path), home=tmp_path)
    assert text.returncode == 0, text.stderr
    assert f"warning: {path}:5: patch '2' has an empty body" in text.stderr
    assert "is valid: 4 tasks" in text.stdout
    out = plait("validate", str(path), "--json", home=tmp_path)
    assert out.returncode == 0, out.stderr
    warnings = json.loads(out.stdout)["warnings"]
    assert [w.split(" — ")[0] for w in warnings] == [
        f"{path}:5: patch '2' has an empty body",
        f"{path}:7: patch '3' has an empty body",
    ]
