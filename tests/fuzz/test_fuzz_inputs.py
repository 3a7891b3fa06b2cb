"""Fuzzing the inputs the other suites do not (issue 14, R4): every agent CLI's stream
decoder, the script agent's file, and GitHub's payloads as plait maps them. A traceback,
a hang or an error that does not say where is a failure.

Fuzzed elsewhere: gameplans (tests/plans/test_plans_properties.py), plait.toml
(tests/plans/test_config.py), blueprints (tests/plans/test_blueprint.py), tickets
(tests/plans/test_tickets.py), claude's stream (tests/agents/test_claude_decoder.py),
verdicts (tests/review/test_verdict.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plait.agents.codex import CodexStreamDecoder
from plait.agents.events import AgentEvent
from plait.agents.gemini import GeminiStreamDecoder
from plait.agents.opencode import OpenCodeStreamDecoder
from plait.agents.pi import PiStreamDecoder
from plait.agents.script import load_script
from plait.agents.stream import JsonLineDecoder
from plait.errors import AgentError
from plait.forges.github import mapping

DECODERS: dict[str, type[JsonLineDecoder]] = {
    "codex": CodexStreamDecoder,
    "gemini": GeminiStreamDecoder,
    "opencode": OpenCodeStreamDecoder,
    "pi": PiStreamDecoder,
}

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
# Keys the decoders and the GitHub mapping look for, so the fuzz reaches past the first `if`.
KEYS = [
    "type", "subtype", "item", "msg", "message", "part", "content", "text", "id", "role",
    "tool", "name", "state", "status", "error", "usage", "tokens", "session_id", "sessionID",
    "thread_id", "result", "stats", "output", "input", "arguments", "command", "exit_code",
    "conclusion", "__typename", "author", "login", "body", "isResolved", "line", "path",
    "databaseId", "comments", "nodes", "reason", "stopReason", "response", "delta",
]  # fmt: skip


def keyed(keys: list[str]) -> st.SearchStrategy[Any]:
    """JSON of any shape whose objects mostly use `keys` (so parsers get past their first
    check)."""
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(keys) | st.text(max_size=6), inner, max_size=6)
        ),
        max_leaves=25,
    )


shaped = keyed(KEYS)


def _feed(decoder: JsonLineDecoder, data: bytes) -> list[AgentEvent]:
    return [*decoder.feed(data), *decoder.close()]


@pytest.mark.parametrize("cli", sorted(DECODERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=1500))
def test_any_bytes_decode_to_events(cli: str, data: bytes) -> None:
    for event in _feed(DECODERS[cli](max_line=256), data):
        assert isinstance(event, AgentEvent)


@pytest.mark.parametrize("cli", sorted(DECODERS))
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(shaped, min_size=1, max_size=6))
def test_json_lines_of_any_shape_decode_to_events(cli: str, lines: list[Any]) -> None:
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    for event in _feed(DECODERS[cli](), data):
        assert isinstance(event, AgentEvent)


@settings(max_examples=200, deadline=None)
@given(doc=json_values | shaped)
def test_any_script_file_loads_or_names_itself(tmp_path_factory: Any, doc: Any) -> None:
    path = Path(tmp_path_factory.mktemp("script")) / "script.json"
    path.write_text(json.dumps(doc))
    try:
        load_script(path)
    except AgentError as exc:
        assert str(path) in str(exc)  # noqa: PT017 (the message must say which file)


@settings(max_examples=300, deadline=None)
@given(node=shaped, nodes=st.lists(shaped, max_size=4))
def test_github_payloads_of_any_shape_map_without_a_traceback(node: Any, nodes: Any) -> None:
    """What GitHub sends is typed by its schema, but a proxy, an enterprise server of
    another version or a partial error can send anything: the mapping never raises."""
    node = node if isinstance(node, dict) else {"value": node}
    nodes = [n if isinstance(n, dict) else {"value": n} for n in nodes]
    mapping.check_status(node)
    mapping.ci_status(nodes, node.get("state") if isinstance(node.get("state"), str) else None)
    mapping.failing_checks(nodes)
    mapping.review_views(nodes)
    mapping.thread_view({"id": "t", **node}, nodes)
    mapping.is_plait_comment(str(node.get("body")))


TASK_KEYS = ["id", "title", "description", "deps", "landing", "agent", "model", "priority",
             "branch", "base_branch", "acceptance", "cwd", "tasks", "name"]  # fmt: skip
plan_shaped = keyed(TASK_KEYS)


@settings(max_examples=300, deadline=None)
@given(doc=plan_shaped, tasks=st.lists(plan_shaped, max_size=3))
def test_a_plan_sent_to_the_api_is_a_plan_or_a_bad_request(doc: Any, tasks: Any) -> None:
    from plait.api.commands import CommandError
    from plait.api.server import plan_from_json

    doc = doc if isinstance(doc, dict) else {"value": doc}
    for sent in (doc, {**doc, "name": "p", "tasks": tasks}):
        try:
            plan_from_json(sent)
        except CommandError as exc:
            assert exc.status == 400  # noqa: PT017


@settings(max_examples=300, deadline=None)
@given(url=st.text(max_size=80) | st.from_regex(r"(https?|ssh|git|file)://[^\s]{0,40}"))
@example(url="A://[")  # urlsplit's ValueError (a bracketed host that is no IPv6 address)
def test_any_remote_url_gives_owner_and_repo_or_a_clean_error(url: str) -> None:
    from plait.errors import PlaitError
    from plait.forges.github.token import parse_remote

    try:
        parse_remote(url)
    except PlaitError as exc:
        assert str(exc)  # noqa: PT017


SWARM_KEYS = ["swarm", "review", "workers", "tickets", "name", "agent", "count", "model",
              "reviewers", "prs", "rounds", "prompts", "effort", "planner"]  # fmt: skip
toml_values = st.recursive(
    st.booleans() | st.integers(-5, 5) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(SWARM_KEYS), inner, max_size=4)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(swarm=toml_values, review=toml_values)
def test_any_swarm_and_review_tables_give_config_or_located_problems(
    swarm: Any, review: Any
) -> None:
    from plait.errors import PlanError
    from plait.plans.config import parse_config

    doc = {"swarm": swarm if isinstance(swarm, dict) else {"tickets": swarm}}
    doc["review"] = review if isinstance(review, dict) else {"prs": review}
    text = "".join(f"{key} = {_toml(value)}\n" for key, value in doc.items())
    try:
        parse_config(text, "plait.toml")
    except PlanError as exc:
        assert "plait.toml:" in str(exc), str(exc)  # noqa: PT017


def _toml(value: Any) -> str:
    """A TOML value (inline tables and arrays) for the fuzzed shapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
