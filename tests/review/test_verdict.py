"""The reviewer's verdict parser: total, linear, and only a clear APPROVED approves."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.review.verdict import (
    MAX_ISSUE_CHARS,
    MAX_ISSUES,
    Verdict,
    parse_verdict,
    render_verdict,
)


@pytest.mark.parametrize(
    "text",
    [
        "VERDICT: APPROVED",
        "All good.\n\nVERDICT: APPROVED\n",
        "**Verdict:** approved",
        "> VERDICT - Approved.",
        "### VERDICT: `APPROVED`",
        "verdict=LGTM",
    ],
)
def test_a_clear_approval_approves(text: str) -> None:
    assert parse_verdict(text) == Verdict(approved=True)


def test_needs_changes_brings_its_numbered_issues_with_their_continuation_lines() -> None:
    text = (
        "I looked at it.\n\nVERDICT: NEEDS_CHANGES\n\n"
        "1. src/a.py: add a test\n   for the empty case\n"
        "2) rename `foo` to `bar`\n\nThanks!"
    )
    verdict = parse_verdict(text)
    assert not verdict.approved
    assert verdict.issues == ("src/a.py: add a test for the empty case", "rename `foo` to `bar`")
    assert verdict.reason == ""


@pytest.mark.parametrize(
    "word", ["NEEDS_CHANGES", "needs changes", "Needs-Changes", "REJECTED", "CHANGES_REQUESTED"]
)
def test_every_spelling_of_a_refusal_is_needs_changes(word: str) -> None:
    verdict = parse_verdict(f"VERDICT: {word}\n1. fix it")
    assert verdict == Verdict(approved=False, issues=("fix it",))


def test_the_last_verdict_line_counts() -> None:
    text = "You asked for VERDICT: APPROVED or NEEDS_CHANGES.\nVERDICT: APPROVED\n" * 2
    assert parse_verdict(text).approved
    assert not parse_verdict(
        "VERDICT: APPROVED\n...on second thought\nVERDICT: NEEDS_CHANGES"
    ).approved


def test_bullets_stand_in_for_numbers_and_issues_before_the_verdict_count_too() -> None:
    assert parse_verdict("VERDICT: NEEDS_CHANGES\n- one\n* two").issues == ("one", "two")
    assert parse_verdict("1. first\n2. second\nVERDICT: NEEDS_CHANGES").issues == (
        "first",
        "second",
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the reviewer gave no answer"),
        ("Looks fine to me, ship it", "the reviewer's answer had no VERDICT line"),
        ("VERDICT: maybe", "neither APPROVED nor NEEDS_CHANGES"),
        ("VERDICT: NEEDS_CHANGES\nplease make it faster", "the reviewer listed no numbered issues"),
    ],
)
def test_anything_unclear_counts_as_needs_changes_with_the_reason(text: str, reason: str) -> None:
    verdict = parse_verdict(text)
    assert not verdict.approved
    assert reason in verdict.reason
    if "faster" in text:
        assert verdict.issues == ("please make it faster",)


def test_approved_is_not_found_inside_a_sentence() -> None:
    assert not parse_verdict("This cannot be APPROVED as is.").approved
    assert not parse_verdict("the verdict is approved").approved


_issue = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
        min_size=1,
        max_size=80,
    )
    .map(str.strip)
    .filter(lambda s: s and not s[0].isdigit() and s[0] not in "-*+•")
)


@given(st.lists(_issue, min_size=1, max_size=8))
def test_a_rendered_verdict_parses_back(issues: list[str]) -> None:
    verdict = Verdict(approved=False, issues=tuple(issues))
    assert parse_verdict(render_verdict(verdict)) == verdict
    assert parse_verdict(render_verdict(Verdict(approved=True))) == Verdict(approved=True)


@settings(max_examples=300)
@given(st.text(max_size=3000))
def test_any_text_gives_a_bounded_verdict(text: str) -> None:
    verdict = parse_verdict(text)
    assert len(verdict.issues) <= MAX_ISSUES
    assert all(len(i) <= MAX_ISSUE_CHARS for i in verdict.issues)
    assert verdict.approved or verdict.issues or verdict.reason


@given(
    st.lists(
        st.sampled_from(["VERDICT:", " APPROVED", "\n", "1. x", "NEEDS", "_CHANGES", "**", "-"]),
        max_size=40,
    )
)
def test_verdict_shaped_noise_never_breaks_it(parts: list[str]) -> None:
    verdict = parse_verdict("".join(parts))
    assert isinstance(verdict.approved, bool)


def test_a_huge_answer_is_read_in_linear_time_and_cut() -> None:
    text = "VERDICT: NEEDS_CHANGES\n" + "".join(f"{n}. {'x' * 5000}\n" for n in range(200))
    verdict = parse_verdict(text)
    assert len(verdict.issues) == MAX_ISSUES
    assert len(verdict.issues[0]) == MAX_ISSUE_CHARS
