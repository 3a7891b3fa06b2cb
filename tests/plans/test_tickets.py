"""Ticket files for the swarm's queue: JSON or Markdown front matter, errors at file:line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from plait.errors import PlanError
from plait.plans.tickets import parse_ticket

MARKDOWN = """---
id: add-login
summary: Add a login page
difficulty: hard
files: [src/login.py, "src/auth, old.py"]
acceptance:
  - shows a form
  - rejects a wrong password
dependencies: [setup-db]
---
# Login

Users sign in with a password.
"""


def test_a_markdown_ticket_gives_every_field() -> None:
    t = parse_ticket(MARKDOWN, "tasks/add-login.md")
    assert (t.id, t.summary, t.weight) == ("add-login", "Add a login page", 3)
    assert t.files == ("src/login.py", "src/auth, old.py")
    assert t.acceptance == ("shows a form", "rejects a wrong password")
    assert t.dependencies == ("setup-db",)
    assert t.description.startswith("# Login\n\nUsers sign in")
    spec = t.spec()
    assert (spec.landing, spec.queue, spec.origin, spec.title) == (
        "merge",
        "tasks",
        "tickets",
        "Add a login page",
    )
    assert spec.acceptance == t.acceptance
    assert spec.depends_on == ("setup-db",)


def test_a_json_ticket_with_aliases_and_defaults() -> None:
    text = json.dumps(
        {
            "title": "Fix the cache",
            "description": "it leaks",
            "acceptance_criteria": "no leak under load",
            "depends_on": ["a"],
            "difficulty": 5,
        }
    )
    t = parse_ticket(text, "tasks/fix-cache.json")
    assert t.id == "fix-cache"  # the file's name
    assert t.acceptance == ("no leak under load",)
    assert t.dependencies == ("a",)
    assert t.weight == 5


def test_summary_defaults_to_the_first_heading_and_a_block_scalar_is_read() -> None:
    text = "---\nid: x\ndescription: |\n  line one\n  line two\n---\n## Make it fast\n"
    t = parse_ticket(text, "tasks/x.md")
    assert t.summary == "Make it fast"
    assert t.description == "line one\nline two"


@pytest.mark.parametrize(
    ("text", "path", "line", "message"),
    [
        ("no front matter", "t.md", 1, "starts with a front matter block"),
        ("---\nid: a\n", "t.md", 1, "never closed"),
        ("---\nid: a\nsummary: s\nfiles\n---\n", "t.md", 4, "cannot read 'files'"),
        ("---\nid: a\nsummary: s\ncolour: red\n---\n", "t.md", 4, "unknown key 'colour'"),
        ("---\nid: a b\nsummary: s\n---\n", "t.md", 2, "contains a space"),
        ("---\nid: a\n---\n", "t.md", 1, "no summary"),
        ("---\nid: a\nsummary: s\ndifficulty: epic\n---\n", "t.md", 4, "difficulty 'epic'"),
        ("---\nid: a\nsummary: s\nid: b\n---\n", "t.md", 4, "'id' is given twice"),
        ('{"id": "a",\n "summary": 3}', "t.json", 2, "summary must be text"),
        ('{"id": "a", "summary": "s",\n "files": [1]}', "t.json", 2, "files must be a list"),
        ('{"id": "a",\n "summary": ', "t.json", 2, "not valid JSON"),
        ("[1, 2]", "t.json", 1, "must be one object"),
        ('{"summary": "s", "dependencies": ["../x"]}', "t.json", 1, "dependency '../x'"),
    ],
)
def test_a_malformed_ticket_is_refused_at_file_and_line(
    text: str, path: str, line: int, message: str
) -> None:
    with pytest.raises(PlanError) as caught:
        parse_ticket(text, path)
    problem = caught.value.problems[0]
    assert (problem.path, problem.line) == (path, line), caught.value.render_all()
    assert message in problem.message
    assert problem.hint


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = "---\nid: a b\ncolour: red\n---\n"
    with pytest.raises(PlanError) as caught:
        parse_ticket(text, "t.md")
    assert len(caught.value.problems) == 3  # id, unknown key, no summary


@settings(max_examples=300)
@given(st.text(max_size=400), st.sampled_from(["t.md", "t.json"]))
def test_any_text_is_a_ticket_or_a_located_error(text: str, path: str) -> None:
    problems: tuple[object, ...] = ()
    try:
        parse_ticket(text, path)
    except PlanError as exc:
        problems = exc.problems
    assert all(p.path == path and p.line >= 0 for p in problems)  # type: ignore[attr-defined]


_front_value = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@settings(max_examples=200)
@given(
    st.dictionaries(st.sampled_from(["id", "summary", "files", "x", "difficulty"]), _front_value)
)
@example({"difficulty": "²"})  # a digit to str.isdigit, not to int(): was a traceback
def test_any_front_matter_is_a_ticket_or_a_located_error(fields: dict[str, str]) -> None:
    text = "---\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "---\nbody\n"
    problems: tuple[object, ...] = ()
    try:
        parse_ticket(text, "tasks/t.md")
    except PlanError as exc:
        problems = exc.problems
    assert all(p.line >= 1 for p in problems)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("front", "line", "says"),
    [
        ("summary: [broken", 2, "summary: [broken leaves its `[` open"),
        ('id: a\nsummary: "open', 3, 'summary: "open leaves its " open'),
        ("summary: s\nacceptance:\n  - one\n\n  - 'two", 6, "- 'two leaves its ' open"),
    ],
)  # fmt: skip
def test_a_bracket_or_quote_left_open_is_an_error_at_its_line(
    front: str, line: int, says: str
) -> None:
    """`summary: [broken` was taken as the summary "[broken" (YAML refuses it)."""
    with pytest.raises(PlanError) as caught:
        parse_ticket(f"---\n{front}\n---\nbody\n", "t.md")
    problem = caught.value.problems[0]
    assert (problem.path, problem.line) == ("t.md", line)
    assert says in problem.message
    assert problem.hint


def test_the_readme_ticket_with_its_comments_is_read_as_meant() -> None:
    """The README's example ticket has `# …` comments after its values: they were read as
    part of them (its difficulty was refused)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("JSON or Markdown with front matter:\n\n```markdown\n", 1)[1]
    ticket = parse_ticket(example.split("```", 1)[0], "tasks/add-login.md")
    assert (ticket.id, ticket.summary, ticket.files) == ("add-login", "Add a login page",
                                                         ("src/login.py",))  # fmt: skip
    assert ticket.acceptance == ("shows a form", "rejects a wrong password")
    assert ticket.dependencies == ("setup-db",)
    hashed = parse_ticket("---\nsummary: 'Fix #12' # not this\nfiles: [a#b]\n---\n", "t.md")
    assert (hashed.summary, hashed.files) == ("Fix #12", ("a#b",))


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("---\nsummary: [broken\n---\n", "t.md"),
        ('{"summary": "s", "difficulty": "huge"}', "t.json"),
        ("---\nid: a b\ncolour: red\n---\n", "t.md"),
    ],
)
def test_a_ticket_error_states_its_fix_once(text: str, path: str) -> None:
    """It said the fix after "—" and again in brackets (the message held the hint too)."""
    with pytest.raises(PlanError) as caught:
        parse_ticket(text, path)
    error, fix = caught.value, caught.value.problems[0].hint
    assert str(error).count(fix) == 1  # as the CLI prints each problem: `file:line: what — fix`
    assert str(error).startswith(f"{path}:")
    assert " — " + fix in str(error)
    assert fix not in error.message  # the API, the TUI and the log add the hint themselves
    assert error.hint == fix


@pytest.mark.parametrize(
    ("front", "line", "says", "fix"),
    [
        ("summary: Fix #12", 2, "summary: Fix #12 reads as 'Fix'", 'summary: "Fix #12"'),
        ("summary: #12", 2, "summary: #12 reads as nothing", 'summary: "#12"'),
        ("summary: Fix #12 # the bug", 2, "summary: Fix #12 reads as 'Fix'",
         'summary: "Fix #12"'),
        ('summary: s\nfiles: [a, #3, "c"]', 3, "files: [a, #3, \"c\"] reads as '[a,'",
         'files: [a, "#3", "c"]'),
        ("summary: s\nacceptance:\n  - ok\n  - closes #4", 5, "- closes #4 reads as 'closes'",
         '- "closes #4"'),
    ],
)  # fmt: skip
def test_an_unquoted_hash_and_digits_is_an_error_that_says_to_quote(
    front: str, line: int, says: str, fix: str
) -> None:
    """`summary: Fix #12` read as "Fix" (` #` starts a comment, as YAML has it)."""
    with pytest.raises(PlanError) as caught:
        parse_ticket(f"---\n{front}\n---\nbody\n", "t.md")
    problem = caught.value.problems[0]
    assert (problem.path, problem.line) == ("t.md", line)
    assert says in problem.message
    assert problem.hint == f"quote it: {fix}"


@pytest.mark.parametrize(
    ("front", "summary", "acceptance"),
    [
        ("summary: 'Fix #12' # the bug", "Fix #12", ()),
        ('summary: "Fix #12"', "Fix #12", ()),
        ("summary: Fix # twelve of them", "Fix", ()),
        ("summary: Fix#12", "Fix#12", ()),
        ("summary: s\nacceptance:\n  - 'closes #4'\n  - ok # 4 of them", "s",
         ("closes #4", "ok")),
    ],
)  # fmt: skip
def test_a_quoted_hash_or_a_comment_in_words_is_read_as_yaml_reads_it(
    front: str, summary: str, acceptance: tuple[str, ...]
) -> None:
    ticket = parse_ticket(f"---\n{front}\n---\nbody\n", "t.md")
    assert (ticket.summary, ticket.acceptance) == (summary, acceptance)
