"""Derived PR status in the GitHub double: check rollup, review decision, merge state.

What GitHub computes from checks, reviews and branch protection: `rollup` is
StatusCheckRollup.state, `review_decision` is null unless protection requires reviews (as on
GitHub), `merge_state_status` is CLEAN / UNSTABLE / BLOCKED / DIRTY / DRAFT / UNKNOWN.
"""

from __future__ import annotations

from plait.testing.github_double.state import CheckRun, Protection, PullRequest, Repo, Review

FAILED = frozenset({"failure", "timed_out", "cancelled", "action_required", "startup_failure"})


class StatusMixin:
    checks: dict[str, list[CheckRun]]

    def mergeable(self, pr: PullRequest) -> bool | None:
        raise NotImplementedError

    def checks_for(self, repo: Repo, sha: str) -> list[CheckRun]:
        return [run for run in self.checks[repo.full_name] if run.head_sha == sha]

    def rollup(self, repo: Repo, sha: str) -> str | None:
        """StatusCheckRollup.state for the commit; None when it has no checks."""
        runs = self.checks_for(repo, sha)
        if not runs:
            return None
        if any(run.conclusion in FAILED for run in runs):
            return "FAILURE"
        if any(run.status != "completed" for run in runs):
            return "PENDING"
        return "SUCCESS"

    def latest_reviews(self, pr: PullRequest) -> dict[str, Review]:
        latest: dict[str, Review] = {}
        for review in pr.reviews:
            if review.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[review.author] = review
        return latest

    def review_decision(self, pr: PullRequest) -> str | None:
        """Like GitHub: null unless the base branch's protection requires reviews."""
        rule = pr.repo.protection.get(pr.base)
        if rule is None or rule.required_approvals <= 0:
            return None
        states = [r.state for r in self.latest_reviews(pr).values()]
        if "CHANGES_REQUESTED" in states:
            return "CHANGES_REQUESTED"
        if states.count("APPROVED") >= rule.required_approvals:
            return "APPROVED"
        return "REVIEW_REQUIRED"

    def protection_failures(self, pr: PullRequest) -> list[str]:
        rule: Protection | None = pr.repo.protection.get(pr.base)
        if rule is None:
            return []
        problems: list[str] = []
        runs = {run.name: run for run in self.checks_for(pr.repo, pr.head_sha)}
        for name in rule.required_checks:
            run = runs.get(name)
            if run is None or run.conclusion not in ("success", "neutral", "skipped"):
                problems.append(f'Required status check "{name}" is expected.')
        if rule.required_conversation_resolution and any(not t.resolved for t in pr.threads):
            problems.append("All comments must be resolved.")
        decision = self.review_decision(pr)
        if decision in ("CHANGES_REQUESTED", "REVIEW_REQUIRED"):
            n = rule.required_approvals
            problems.append(
                f"At least {n} approving review{'s are' if n > 1 else ' is'} required by "
                "reviewers with write access."
            )
        return problems

    def merge_state_status(self, pr: PullRequest) -> str:
        if pr.state != "open":
            return "UNKNOWN"
        if pr.draft:
            return "DRAFT"
        mergeable = self.mergeable(pr)
        if mergeable is None:
            return "UNKNOWN"
        if not mergeable:
            return "DIRTY"
        if self.protection_failures(pr):
            return "BLOCKED"
        if self.rollup(pr.repo, pr.head_sha) in ("FAILURE", "PENDING"):
            return "UNSTABLE"
        return "CLEAN"
