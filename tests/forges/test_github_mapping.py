"""GitHub's GraphQL objects mapped into PRView pieces, and evidence rendering."""

from __future__ import annotations

from typing import Any

from plait.core.model import CIStatus, ReviewThread
from plait.forges.github import mapping
from plait.forges.github.evidence import log_tail, render_check


def run(status: str = "COMPLETED", conclusion: str | None = "SUCCESS") -> dict[str, Any]:
    return {"__typename": "CheckRun", "id": "CR_1", "name": "test", "status": status,
            "conclusion": conclusion}  # fmt: skip


def status_ctx(state: str) -> dict[str, Any]:
    return {"__typename": "StatusContext", "id": "SC_1", "context": "ci/x", "state": state}


def test_no_rollup_is_no_ci() -> None:
    assert mapping.ci_status([], None) is CIStatus.NONE


def test_all_successful_checks_pass() -> None:
    assert mapping.ci_status([run(), status_ctx("SUCCESS")], "SUCCESS") is CIStatus.PASSED


def test_a_running_check_is_pending() -> None:
    assert mapping.ci_status([run(), run("IN_PROGRESS", None)], "PENDING") is CIStatus.PENDING


def test_a_failure_wins_over_pending() -> None:
    contexts = [run("QUEUED", None), run(conclusion="TIMED_OUT")]
    assert mapping.ci_status(contexts, "FAILURE") is CIStatus.FAILED


def test_a_failed_commit_status_fails() -> None:
    assert mapping.ci_status([status_ctx("ERROR")], "ERROR") is CIStatus.FAILED


def test_skipped_and_neutral_checks_pass() -> None:
    contexts = [run(conclusion="SKIPPED"), run(conclusion="NEUTRAL")]
    assert mapping.ci_status(contexts, "SUCCESS") is CIStatus.PASSED


def test_mergeable_maps_unknown_to_none() -> None:
    assert [mapping.mergeable(v) for v in ("MERGEABLE", "CONFLICTING", "UNKNOWN")] == [
        True,
        False,
        None,
    ]


THREAD = {"id": "T1", "isResolved": False, "isOutdated": True, "path": "a.py", "line": None,
          "originalLine": 7}  # fmt: skip


def comment(login: str, body: str) -> dict[str, Any]:
    return {"id": "C", "body": body, "author": {"login": login}}


def test_unresolved_thread_carries_every_human_comment() -> None:
    view = mapping.thread_view(
        THREAD,
        [
            comment("ann", "rename x"),
            comment("bot", "done\n\n<!-- plait:e1 -->"),
            comment("ann", "thanks"),
        ],
    )
    assert view == ReviewThread(
        id="T1",
        body="ann: rename x\n\nann: thanks",
        author="ann",
        path="a.py",
        line=7,
        outdated=True,
    )


def test_resolved_thread_is_not_feedback() -> None:
    assert mapping.thread_view({**THREAD, "isResolved": True}, [comment("a", "x")]) is None


def test_thread_of_only_plait_comments_is_not_feedback() -> None:
    assert mapping.thread_view(THREAD, [comment("me", "<!-- plait:x -->")]) is None


def test_latest_changes_requested_review_becomes_a_thread() -> None:
    reviews = [
        {"id": "R1", "databaseId": 11, "state": "CHANGES_REQUESTED", "body": "no",
         "author": {"login": "bo"}},
        {"id": "R2", "databaseId": 12, "state": "APPROVED", "body": "", "author": {"login": "cy"}},
    ]  # fmt: skip
    assert mapping.review_views(reviews) == [
        ReviewThread(id="review:11", body="bo: no", author="bo")
    ]


def test_marker_is_recognised_as_plait_comment() -> None:
    assert mapping.is_plait_comment("fixed\n" + mapping.marker("eff-3"))


def test_render_check_has_annotations_and_log() -> None:
    check = {
        "name": "lint",
        "conclusion": "FAILURE",
        "title": "2 errors",
        "summary": "ruff found problems",
        "annotations": {
            "nodes": [{"path": "a.py", "message": "E501", "location": {"start": {"line": 3}}}]
        },
    }
    text = render_check(check, "2024-01-01T00:00:00.0000000Z boom\n")
    assert text.splitlines() == [
        "✗ lint: failure",
        "  2 errors",
        "ruff found problems",
        "annotations:",
        "  a.py:3 E501",
        "log (tail):",
        "boom",
    ]


def test_log_tail_keeps_the_last_lines() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    assert log_tail(text).splitlines()[-1] == "line 99"
