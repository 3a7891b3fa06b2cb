"""GitHub's published GraphQL schema, loaded once per process, and GitHub's query rules.

How this works: `schema()` reads the SDL that npm `@octokit/graphql-schema` ships (installed
by `tools/github-schema/install` into `.cache/github-schema`; run on demand when missing) and
builds it with graphql-core. The published SDL declares two enterprise fields twice, which
graphql-core's SDL check refuses, so it is built with `assume_valid_sdl`.

`limits(...)` applies what GitHub checks before running a query and graphql-core does not:
every connection needs `first` or `last` within 1..100, and at most 500,000 nodes in total.
It also computes the rate-limit cost GitHub documents: add up the requests needed to fill
every connection (a connection under a parent connection of `first: 50` needs 50), divide by
100 and round to the nearest whole number, at least 1. Mutations are charged the same way.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    build_ast_schema,
    get_named_type,
    parse,
)
from graphql.language import DocumentNode

from plait.errors import PlaitError

NODE_LIMIT = 500_000
_ROOT = Path(__file__).resolve().parents[4]
_SDL_REL = "node_modules/@octokit/graphql-schema/schema.graphql"


class SchemaMissing(PlaitError):
    """GitHub's GraphQL schema is not installed and could not be installed."""


def sdl_path() -> Path:
    """Where the SDL is: `$PLAIT_GITHUB_SCHEMA_DIR` or `<repo>/.cache/github-schema`."""
    base = os.environ.get("PLAIT_GITHUB_SCHEMA_DIR") or str(_ROOT / ".cache" / "github-schema")
    return Path(base) / _SDL_REL


def ensure_installed() -> Path:
    path = sdl_path()
    if path.is_file():
        return path
    script = _ROOT / "tools" / "github-schema" / "install"
    proc = subprocess.run(
        [str(script), "--quiet"], capture_output=True, text=True, check=False, timeout=600
    )
    if proc.returncode != 0 or not path.is_file():
        raise SchemaMissing(
            f"GitHub's GraphQL schema is missing at {path}: {proc.stderr.strip()[-400:]}",
            hint="run tools/github-schema/install (needs npm and the npm registry)",
        )
    return path


@functools.cache
def schema() -> GraphQLSchema:
    document = parse(ensure_installed().read_text(), no_location=True)
    return build_ast_schema(document, assume_valid_sdl=True)


@dataclass(slots=True)
class Limits:
    requests: int = 0  # connection requests, GitHub's "aggregate"
    nodes: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)  # (GitHub error type, message)

    @property
    def cost(self) -> int:
        return max(1, math.floor(self.requests / 100 + 0.5))


def limits(
    document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> Limits:
    """GitHub's pagination rules and cost for one (already validated) operation."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    defaults = {
        d.variable.name.value: d.default_value.value
        for d in operation.variable_definitions or ()
        if isinstance(d.default_value, IntValueNode)
    }
    walker = _Walker(schema(), fragments, {**defaults, **variables}, Limits())
    root = schema().mutation_type if operation.operation.value == "mutation" else None
    walker.walk(operation.selection_set, root or schema().query_type, 1)
    if walker.out.nodes > NODE_LIMIT:
        walker.out.errors.append(
            (
                "MAX_NODE_LIMIT_EXCEEDED",
                f"This query requests up to {walker.out.nodes:,} possible nodes which exceeds the "
                f"maximum limit of {NODE_LIMIT:,}.",
            )
        )
    return walker.out


@dataclass(slots=True)
class _Walker:
    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    out: Limits

    def walk(self, selections: SelectionSetNode, parent: Any, multiplier: int) -> None:
        for node in selections.selections:
            if isinstance(node, FieldNode):
                self._field(node, parent, multiplier)
            elif isinstance(node, InlineFragmentNode):
                kind = self._type(node.type_condition.name.value if node.type_condition else None)
                self.walk(node.selection_set, kind or parent, multiplier)
            elif isinstance(node, FragmentSpreadNode):
                frag = self.fragments.get(node.name.value)
                if frag is not None:
                    kind = self._type(frag.type_condition.name.value)
                    self.walk(frag.selection_set, kind or parent, multiplier)

    def _type(self, name: str | None) -> GraphQLNamedType | None:
        return self.schema.get_type(name) if name else None

    def _field(self, node: FieldNode, parent: Any, multiplier: int) -> None:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return
        definition = parent.fields.get(node.name.value)
        if definition is None or node.selection_set is None:
            return
        target = get_named_type(definition.type)
        if not target.name.endswith("Connection") or not (
            "first" in definition.args or "last" in definition.args
        ):
            self.walk(node.selection_set, target, multiplier)
            return
        size = self._page_size(node)
        self.out.requests += multiplier
        if size is None:
            self.out.errors.append(
                (
                    "MISSING_PAGINATION_BOUNDARIES",
                    f"You must provide a `first` or `last` value to properly paginate the "
                    f"`{node.name.value}` connection.",
                )
            )
            size = 0
        elif not 1 <= size <= 100:
            which = "first" if self._arg(node, "first") is not None else "last"
            self.out.errors.append(
                (
                    "EXCESSIVE_PAGINATION",
                    f"Requesting {size} records on the `{node.name.value}` connection exceeds the "
                    f"`{which}` limit of 100 records.",
                )
            )
        self.out.nodes += multiplier * size
        self.walk(node.selection_set, target, multiplier * max(size, 1))

    def _page_size(self, node: FieldNode) -> int | None:
        first, last = self._arg(node, "first"), self._arg(node, "last")
        sizes = [n for n in (first, last) if n is not None]
        return max(sizes) if sizes else None

    def _arg(self, node: FieldNode, name: str) -> int | None:
        for arg in node.arguments or ():
            if arg.name.value != name:
                continue
            if isinstance(arg.value, IntValueNode):
                return int(arg.value.value)
            if isinstance(arg.value, VariableNode):
                value = self.variables.get(arg.value.name.value)
                if isinstance(value, int | str) and str(value).isdecimal():
                    return int(value)
                return None
        return None
