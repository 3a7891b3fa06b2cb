"""plait.toml's [issues]: which GitHub issues become tasks, checked with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from plait.core.model import Reviewer, RiskRules
from plait.engine.settings import Settings, effective
from plait.errors import PlanError
from plait.plans.config import parse_config
from plait.plans.issues_config import IssuesConfig
from plait.plans.risk import RiskConfig

FULL = """\
[issues]
repository = "acme/app"
labels = ["plait", "ready"]
exclude = ["wontfix"]
assignee = "plait-bot"
poll = 30
launches_per_poll = 3
cooldowns = [60, 600]
hold_labels = ["hold"]
"""


def test_the_issues_table_is_read() -> None:
    assert parse_config(FULL).issues == IssuesConfig(
        repository="acme/app", labels=("plait", "ready"), exclude=("wontfix",),
        assignee="plait-bot", poll=30.0, launches_per_poll=3, cooldowns=(60.0, 600.0),
        hold_labels=("hold",),
    )  # fmt: skip


def test_no_table_no_issues_and_an_empty_one_takes_the_defaults() -> None:
    assert parse_config('[agent]\ndefault = "claude"\n').issues is None
    assert parse_config("[issues]\n").issues == IssuesConfig()


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('repository = "acme"', "is not owner/name"),
        ('labels = "plait"', "is not a list of label names"),
        ("labels = []", "every open issue would become a task"),
        ("launches_per_poll = 0", "is not a whole number of at least 1"),
        ("implement_cap = 0", "is not a whole number of at least 1"),
        ("repair_cap = 1.5", "is not a whole number of at least 1"),
        ("cooldowns = [3600, -1]", "is not a list of seconds greater than 0"),
        ('lables = ["x"]', "did you mean 'labels'?"),
    ],
)
def test_mistakes_name_the_line(line: str, says: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_config(f'[agent]\ndefault = "claude"\n\n[issues]\n{line}\n')
    (problem,) = err.value.problems
    assert problem.line == 5
    assert says in f"{problem.message} {problem.hint}"


def test_lane_caps_are_the_caps_of_the_lanes_classes_unless_a_class_says_otherwise(
    tmp_path: Path,
) -> None:
    text = "[issues]\nimplement_cap = 3\nrepair_cap = 1\n"
    config = parse_config(text)
    assert config.issues is not None
    assert config.issues.lane_caps() == {"issues-implement": 3, "issues-repair": 1}
    mine = parse_config(text + "\n[classes.issues-repair]\ncap = 2\n")
    settings = Settings(repo=str(tmp_path))
    assert effective("p", settings, config).config.class_caps == {
        "issues-implement": 3, "issues-repair": 1,
    }  # fmt: skip
    assert effective("p", settings, mine).config.class_caps == {
        "issues-implement": 3, "issues-repair": 2,
    }  # fmt: skip


def test_the_readme_example_is_a_valid_plait_toml() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Working from issues", 1)[1]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config = parse_config(toml)
    assert config.issues == IssuesConfig(
        repository="acme/app", labels=("plait",), exclude=("wontfix",), assignee="plait-bot",
        poll=60.0, launches_per_poll=5, repair_label="plait:repair", implement_cap=3,
        repair_cap=1,
    )  # fmt: skip
    assert config.class_caps == {"HEAVY": 1, "E2E": 1}
    assert config.class_paths == {"E2E": ("e2e/**", "migrations/**")}
    assert config.risk == RiskConfig(
        human=("migrations/**", "*.sql"), double_check=("src/auth/**",), max_files=20,
        max_lines=800, double_check_reviewer="codex",
    )  # fmt: skip


def test_the_risk_rules_and_classes_by_path_reach_the_core(tmp_path: Path) -> None:
    text = (
        '[risk]\nhuman = ["db/**"]\ndouble_check_reviewer = "codex/gpt-5"\n'
        '[classes.E2E]\npaths = ["e2e/**"]\nexclusive = true\n'
    )
    config = effective("p", Settings(repo=str(tmp_path)), parse_config(text)).config
    assert config.risk_rules == RiskRules(
        human=("db/**",), second=(Reviewer(agent="codex", model="gpt-5"),)
    )
    assert (config.class_paths, config.class_caps) == ({"E2E": ("e2e/**",)}, {"E2E": 1})


def test_class_paths_and_the_second_reviewer_mistakes_name_the_line() -> None:
    with pytest.raises(PlanError) as err:
        parse_config('[classes.E2E]\npaths = "e2e"\n[risk]\ndouble_check_reviewer = 3\n')
    assert sorted((p.line, p.message) for p in err.value.problems) == [
        (2, 'paths = "e2e" is not a list of path patterns, e.g. ["e2e/**"]'),
        (4, 'double_check_reviewer = 3 is not an agent, or "agent/model", e.g. "codex"'),
    ]


def test_risk_mistakes_name_the_line() -> None:
    with pytest.raises(PlanError) as err:
        parse_config('[risk]\nhuman = "migrations"\nmax_files = 0\n')
    assert [(p.line, p.message) for p in err.value.problems] == [
        (2, 'human = "migrations" is not a list of path patterns, e.g. ["migrations/**"]'),
        (3, "max_files = 0 is not a whole number of at least 1"),
    ]
