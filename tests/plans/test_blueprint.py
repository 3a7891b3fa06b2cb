"""Blueprints: parsed like plans — every problem with file:line and a fix, never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.errors import PlanError
from plait.plans.blueprint import parse_blueprint

FULL = """\
name = "api-team"
description = "Add the orders API"

[vars]
resource = "orders"

[agents.schema]
prompt = "Design the ${resource} table"
agent = "claude"
model = "sonnet"
restart = "on-failure"
max_restarts = 2
window = 60
backoff = 0.5
activity_timeout = 300
allowed_tools = ["Read", "Edit"]
ports = ["db"]

[agents.api]
prompt = "Build the ${resource} API"
depends_on = ["schema"]
landing = "pr"

[agents.server]
command = "npm run dev -- --port 3000"
cwd = "/srv/app"
"""


def problems(text: str, **variables: str) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_blueprint(text, "team.toml", variables=variables)
    return [p.render() for p in caught.value.problems]


def test_a_full_blueprint_parses_with_its_variables() -> None:
    bp = parse_blueprint(FULL, "team.toml", variables={"resource": "invoices"})
    assert bp.name == "api-team"
    schema, api, server = bp.members
    assert schema.fields["prompt"] == "Design the invoices table"
    assert schema.fields["restart"] == "on-failure"
    assert schema.fields["window"] == 60.0
    assert schema.fields["allowed_tools"] == ["Read", "Edit"]
    assert api.depends_on == ("schema",)
    assert server.fields["command"] == ["npm", "run", "dev", "--", "--port", "3000"]
    assert server.fields["cwd"] == "/srv/app"
    assert bp.to_wire()["members"][1] == {
        "name": "api",
        "fields": {"prompt": "Build the invoices API", "landing": "pr"},
        "depends_on": ["schema"],
    }


def test_the_name_defaults_to_the_file_name() -> None:
    bp = parse_blueprint('[agents.a]\nprompt = "x"\n', "dir/night-watch.toml")
    assert bp.name == "night-watch"


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ('[agents.a]\nprompt = "x"\ndepends_on = ["b"]\n', "team.toml:3", "unknown agent 'b'"),
        (
            '[agents.a]\nprompt = "x"\ndepends_on = ["b"]\n[agents.b]\nprompt = "y"\n'
            'depends_on = ["a"]\n',
            "team.toml:3",
            "cycle",
        ),
        ('[agents.a]\nprompt = "x"\nprommpt = "y"\n', "team.toml:3", "did you mean 'prompt'"),
        ('colour = 3\n[agents.a]\nprompt = "x"\n', "team.toml:1", "unknown key 'colour'"),
        ('[agents.a]\nmodel = "m"\n', "team.toml:1", "neither a prompt nor a command"),
        ('[agents.a]\nprompt = "x"\ncommand = ["y"]\n', "team.toml:1", "not both"),
        ('[agents.a]\nprompt = "x"\nrestart = "sometimes"\n', "team.toml:3", "restart"),
        ('[agents.a]\nprompt = "x"\nwindow = 0\n', "team.toml:3", "greater than 0"),
        ('[agents.a]\nprompt = "${nope}"\n', "team.toml:2", "--var nope="),
        ('[agents.a]\nprompt = "x"\ncwd = "rel"\n', "team.toml:3", "not an absolute path"),
        ('[agents.a]\nprompt = "x"\ncwd = "/d"\nlanding = "pr"\n', "team.toml:4", "no branch"),
        ('[agents."a b"]\nprompt = "x"\n', "team.toml:1", "agent name"),
        ("name = 1\n", "team.toml", "needs at least one agent"),
        ('[agents.a\nprompt = "x"\n', "team.toml:1", "not valid TOML"),
    ],
)
def test_each_problem_names_its_line_and_a_fix(text: str, where: str, words: str) -> None:
    found = problems(text)
    assert any(p.startswith(where) and words in p for p in found), found
    assert all(" — " in p for p in found)  # every problem carries a hint


_KEYS = ["prompt", "command", "agent", "depends_on", "restart", "window", "cwd", "bogus", "ports"]
_VALUES = st.one_of(
    st.text(max_size=8),
    st.integers(-3, 3),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.text(max_size=4), max_size=3),
)


@st.composite
def blueprints(draw: st.DrawFn) -> str:
    """Random blueprints, some of them valid, most of them wrong in some way."""
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(f"name = {_toml(draw(_VALUES))}")
    for i in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(["a", "b", "c", f"x{i}", "bad name", ""]))
        lines.append(f'[agents."{name}"]')
        for key in draw(st.lists(st.sampled_from(_KEYS), max_size=4, unique=True)):
            lines.append(f"{key} = {_toml(draw(_VALUES))}")
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=12)))
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else repr(value).replace("inf", "inf")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return str(value)


@settings(max_examples=300, deadline=None)
@given(blueprints())
def test_fuzzed_blueprints_never_raise_anything_but_a_located_plan_error(text: str) -> None:
    try:
        bp = parse_blueprint(text, "fuzz.toml")
    except PlanError as exc:
        for p in exc.problems:
            assert p.path == "fuzz.toml"
            assert p.hint
        return
    assert bp.members
    names = {m.name for m in bp.members}
    assert all(d in names for m in bp.members for d in m.depends_on)


def test_the_readme_blueprint_is_valid() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Blueprints", 1)[1]
    toml = section.split("```toml\n", 1)[1].split("```", 1)[0]
    bp = parse_blueprint(toml, "README.md", variables={"resource": "invoices"})
    assert [m.name for m in bp.members] == ["schema", "api", "docs", "review", "devserver"]
    assert bp.members[3].depends_on == ("api", "docs")


def test_a_var_the_blueprint_neither_declares_nor_uses_is_refused() -> None:
    # `plait apply team.toml --var resorce=users` applied the team with "orders": the
    # misspelt variable was silently dropped.
    with pytest.raises(PlanError) as caught:
        parse_blueprint(FULL, "team.toml", variables={"resorce": "users"})
    assert "--var resorce: the blueprint has no variable 'resorce'" in caught.value.message
    assert "did you mean --var resource=…?" in caught.value.hint
    used_only = FULL.replace('[vars]\nresource = "orders"\n', "")
    team = parse_blueprint(used_only, "team.toml", variables={"resource": "users"})
    assert "users" in team.members[0].fields["prompt"]
    declared = parse_blueprint(FULL, "team.toml", variables={"resource": "users"})
    assert declared.variables["resource"] == "users"
