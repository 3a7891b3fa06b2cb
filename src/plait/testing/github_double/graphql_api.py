"""`POST /graphql` of the GitHub double: GitHub's schema, GitHub's rules, the double's data.

How this works: parse → validate against the published schema → GitHub's own pagination
rules and cost (`graphql_schema.limits`) → charge the cost to the `graphql` bucket → execute
with graphql-core's default resolvers over the dicts `graphql_nodes` builds. A query GitHub
would reject never runs and gets HTTP 200 with `{"errors": [...]}` (as GitHub answers), an
exhausted bucket gets `{"errors": [{"type": "RATE_LIMITED", …}]}`. Resolver errors carry
GitHub's error `type` (NOT_FOUND, UNPROCESSABLE, FORBIDDEN) next to `message` and `path`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)
from graphql.language import DocumentNode

from plait.testing.github_double import git_store
from plait.testing.github_double.graphql_nodes import Nodes, NotFound, Obj
from plait.testing.github_double.graphql_schema import limits, schema
from plait.testing.github_double.state import PullRequest, Repo, Thread, iso
from plait.testing.github_double.world import ApiError, World

_ERROR_TYPES = {404: "NOT_FOUND", 403: "FORBIDDEN", 409: "UNPROCESSABLE"}


@dataclass(frozen=True, slots=True)
class Outcome:
    body: dict[str, Any]
    cost: int | None  # None when the query never ran (rejected before execution)
    rate_limited: bool = False


def run(world: World, payload: Any, *, actor: str, base: str) -> Outcome:
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return Outcome({"message": "Problems parsing JSON"}, None)
    variables = payload.get("variables") or {}
    try:
        document = parse(payload["query"])
    except GraphQLSyntaxError as exc:
        return Outcome({"errors": [_format(exc)]}, None)
    errors = validate(schema(), document)
    if errors:
        return Outcome({"errors": [_format(e) for e in errors]}, None)
    operation = _operation(document, payload.get("operationName"))
    if operation is None:
        return Outcome(
            {"errors": [{"message": "No operation named the given operationName"}]}, None
        )
    rules = limits(document, operation, variables)
    if rules.errors:
        errs = [{"type": kind, "message": msg} for kind, msg in rules.errors]
        return Outcome({"errors": errs}, None)
    with world.lock:
        bucket = world.graphql
        bucket.roll()
        if bucket.remaining < rules.cost:
            body = {"errors": [{"type": "RATE_LIMITED", "message": _limited(actor)}]}
            return Outcome(body, 0, rate_limited=True)
        bucket.used += rules.cost
        world.sync_all()
        root = Root(world, Nodes(world, base), actor, rules.cost, rules.nodes).value()
        result = execute(
            schema(),
            document,
            root_value=root,
            variable_values=variables,
            operation_name=payload.get("operationName"),
        )
    assert isinstance(result, ExecutionResult), "resolvers are synchronous"
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [_format(e) for e in result.errors]
    return Outcome(answer, rules.cost)


def _limited(actor: str) -> str:
    return f"API rate limit already exceeded for user ID {sum(map(ord, actor))}."


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        return next((op for op in ops if op.name and op.name.value == name), None)
    return ops[0] if len(ops) == 1 else None


def _format(error: GraphQLError) -> dict[str, Any]:
    out: dict[str, Any] = {}
    original = error.original_error
    if isinstance(original, NotFound):
        out["type"] = "NOT_FOUND"
    elif isinstance(original, ApiError):
        out["type"] = _ERROR_TYPES.get(original.status, "UNPROCESSABLE")
    if error.path:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    out["message"] = error.message
    return out


class Root:
    """The query and mutation root fields (one dict; their names never collide)."""

    def __init__(self, world: World, nodes: Nodes, actor: str, cost: int, node_count: int):
        self.world, self.nodes, self.actor = world, nodes, actor
        self.cost, self.node_count = cost, node_count

    def value(self) -> Obj:
        return {
            "repository": self.repository,
            "node": lambda info, id: self._node(id),
            "nodes": lambda info, ids: [self._node(i, strict=False) for i in ids],
            "viewer": {"__typename": "User", "login": self.actor},
            "rateLimit": self.rate_limit,
            "markPullRequestReadyForReview": self.mark_ready,
            "convertPullRequestToDraft": self.convert_to_draft,
            "resolveReviewThread": lambda info, input: self._resolve(input, True),
            "unresolveReviewThread": lambda info, input: self._resolve(input, False),
            "addPullRequestReviewThreadReply": self.thread_reply,
            "addComment": self.add_comment,
            "enablePullRequestAutoMerge": self.enable_auto_merge,
            "disablePullRequestAutoMerge": self.disable_auto_merge,
            "enqueuePullRequest": self.enqueue,
            "mergePullRequest": self.merge,
            "updatePullRequest": self.update,
            "updatePullRequestBranch": self.update_branch,
            "createPullRequest": self.create,
            "closePullRequest": self.close,
        }

    # ---- queries -----------------------------------------------------------------------------
    def repository(self, info: Any, owner: str, name: str, **_: Any) -> Obj:
        repo = self.world.repos.get(f"{owner}/{name}")
        if repo is None:
            raise NotFound(f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return self.nodes.repo(repo)

    def _node(self, nid: str, *, strict: bool = True) -> Obj | None:
        made = self.nodes.any(self.world.nodes.get(nid))
        if made is None and strict:
            raise NotFound(f"Could not resolve to a node with the global id of '{nid}'")
        return made

    def rate_limit(self, info: Any, dryRun: bool = False) -> Obj:
        bucket = self.world.graphql
        return {
            "cost": self.cost,
            "limit": bucket.limit,
            "remaining": bucket.remaining,
            "used": bucket.used,
            "resetAt": iso(bucket.reset_at),
            "nodeCount": self.node_count,
        }

    # ---- mutations ---------------------------------------------------------------------------
    def _get(self, nid: str, kind: type[Any]) -> Any:
        found = self.world.nodes.get(nid)
        if not isinstance(found, kind):
            raise NotFound(f"Could not resolve to a node with the global id of '{nid}'")
        return found

    def _done(self, data: Mapping[str, Any], **fields: Any) -> Obj:
        return {"clientMutationId": data.get("clientMutationId"), **fields}

    def mark_ready(self, info: Any, input: dict[str, Any]) -> Obj:
        pr: PullRequest = self._get(input["pullRequestId"], PullRequest)
        self.world.mark_ready(pr)
        return self._done(input, pullRequest=self.nodes.pr(pr))

    def convert_to_draft(self, info: Any, input: dict[str, Any]) -> Obj:
        pr: PullRequest = self._get(input["pullRequestId"], PullRequest)
        pr.draft = True
        pr.touch()
        return self._done(input, pullRequest=self.nodes.pr(pr))

    def _resolve(self, data: dict[str, Any], resolved: bool) -> Obj:
        thread: Thread = self._get(data["threadId"], Thread)
        self.world.resolve(thread, self.actor, resolved)
        return self._done(data, thread=self.nodes.thread(thread))

    def thread_reply(self, info: Any, input: dict[str, Any]) -> Obj:
        thread: Thread = self._get(input["pullRequestReviewThreadId"], Thread)
        pr = next(p for prs in self.world.prs.values() for p in prs.values() if thread in p.threads)
        comment = self.world.reply(pr, thread, input["body"], self.actor)
        return self._done(input, comment=self.nodes.review_comment(comment))

    def add_comment(self, info: Any, input: dict[str, Any]) -> Obj:
        pr: PullRequest = self._get(input["subjectId"], PullRequest)
        node = self.nodes.issue_comment(self.world.add_comment(pr, input["body"], self.actor))
        return self._done(
            input, commentEdge={"cursor": "", "node": node}, subject=self.nodes.pr(pr)
        )

    def enable_auto_merge(self, info: Any, input: dict[str, Any]) -> Obj:
        pr: PullRequest = self._get(input["pullRequestId"], PullRequest)
        self._expect_head(pr, input.get("expectedHeadOid"))
        if not pr.repo.allow_auto_merge:
            raise ApiError(422, "Auto merge is not allowed for this repository")
        if self.world.merge_state_status(pr) == "CLEAN":
            raise ApiError(422, "Pull request is in clean status")
        method = str(input.get("mergeMethod") or "MERGE").lower()
        pr.auto_merge = method
        pr.merged_by = None
        return self._done(input, pullRequest=self.nodes.pr(pr), actor=self.nodes.pr(pr)["author"])

    def disable_auto_merge(self, info: Any, input: dict[str, Any]) -> Obj:
        pr: PullRequest = self._get(input["pullRequestId"], PullRequest)
        pr.auto_merge = None
        return self._done(input, pullRequest=self.nodes.pr(pr))

    def enqueue(self, info: Any, input: dict[str, Any]) -> Obj:
        pr: PullRequest = self._get(input["pullRequestId"], PullRequest)
        self._expect_head(pr, input.get("expectedHeadOid"))
        if not pr.repo.merge_queue:
            raise ApiError(422, "Merge queue is not enabled for this branch")
        if pr.draft or pr.state != "open":
            raise ApiError(422, "Pull request is not mergeable")
        if pr.queued_at is None:
            pr.queued_at = time.monotonic() + pr.repo.merge_queue_delay
        return self._done(input, mergeQueueEntry=self.nodes.queue_entry(pr))

    def merge(self, info: Any, input: dict[str, Any]) -> Obj:
        pr: PullRequest = self._get(input["pullRequestId"], PullRequest)
        self.world.merge_pr(
            pr,
            method=str(input.get("mergeMethod") or "MERGE").lower(),
            sha=input.get("expectedHeadOid"),
            title=input.get("commitHeadline"),
            message=input.get("commitBody"),
            actor=self.actor,
        )
        return self._done(input, pullRequest=self.nodes.pr(pr))

    def update(self, info: Any, input: dict[str, Any]) -> Obj:
        pr: PullRequest = self._get(input["pullRequestId"], PullRequest)
        keys = {"title": "title", "body": "body", "baseRefName": "base", "state": "state"}
        fields = {keys[k]: v for k, v in input.items() if k in keys and v is not None}
        if "state" in fields:
            fields["state"] = str(fields["state"]).lower()
        self.world.update_pr(pr, fields, self.actor)
        return self._done(input, pullRequest=self.nodes.pr(pr))

    def close(self, info: Any, input: dict[str, Any]) -> Obj:
        pr: PullRequest = self._get(input["pullRequestId"], PullRequest)
        self.world.close_pr(pr, self.actor)
        return self._done(input, pullRequest=self.nodes.pr(pr))

    def update_branch(self, info: Any, input: dict[str, Any]) -> Obj:
        """Merge the base into the head branch, as GitHub's "Update branch" button does."""
        pr: PullRequest = self._get(input["pullRequestId"], PullRequest)
        self._expect_head(pr, input.get("expectedHeadOid"))
        repo: Repo = pr.repo
        base_sha = repo.tips[pr.base]
        if not git_store.is_ancestor(repo.path, base_sha, pr.head_sha):
            try:
                tree = git_store.merged_tree(repo.path, pr.head_sha, base_sha)
            except git_store.MergeConflict as exc:
                raise ApiError(422, "merge conflict between base and head") from exc
            text = f"Merge branch '{pr.base}' into {pr.head}\n"
            author = (self.actor, f"{self.actor}@users.noreply.github.com")
            new = git_store.commit_tree(repo.path, tree, [pr.head_sha, base_sha], text, author)
            git_store.move_branch(repo.path, pr.head, new, pr.head_sha)
            self.world.sync(repo)
        return self._done(input, pullRequest=self.nodes.pr(pr))

    def create(self, info: Any, input: dict[str, Any]) -> Obj:
        repo: Repo = self._get(input["repositoryId"], Repo)
        try:
            pr = self.world.open_pr(
                repo,
                head=input["headRefName"],
                base=input["baseRefName"],
                title=input["title"],
                body=input.get("body") or "",
                draft=bool(input.get("draft")),
                author=self.actor,
            )
        except ApiError as exc:
            first = (exc.errors or [{}])[0]
            detail = first.get("message", exc.message) if isinstance(first, dict) else first
            raise ApiError(422, str(detail)) from exc
        return self._done(input, pullRequest=self.nodes.pr(pr))

    def _expect_head(self, pr: PullRequest, oid: str | None) -> None:
        if oid and oid != pr.head_sha:
            raise ApiError(409, f"Head sha didn't match expected head sha ({pr.head_sha[:7]})")
