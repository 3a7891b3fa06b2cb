"""Project names from plan titles in any script: readable, safe, unique on request."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plait.core.plan import (
    PROJECT_NAME_MAX,
    SLUG_MAX,
    project_name_problem,
    slugify,
    unique_name,
)


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Session Auth", "session-auth"),
        ("Gameplan: Café Über Straße", "gameplan-cafe-uber-strasse"),
        ("İstanbul Łódź Ærø", "istanbul-lodz-aero"),
        ("ＡＢＣ　ｄｅｆ", "abc-def"),  # full-width letters and space
        ("Миграция базы данных", "миграция-базы-данных"),
        ("Ελληνικά σχέδιο", "ελληνικά-σχέδιο"),
        ("数据库迁移", "数据库迁移"),
        ("がぎぐ 計画", "がぎぐ-計画"),  # kana with voicing marks, recomposed
        ("हिन्दी योजना", "हिन्दी-योजना"),  # vowel signs stay on their letters
        ("مرحبا بالعالم", "مرحبا-بالعالم"),
        ("x/../y\\z", "x-y-z"),
        ("", "plan"),
        ("   ", "plan"),
    ],
)
def test_titles_become_readable_names(title: str, name: str) -> None:
    assert slugify(title) == unicodedata.normalize("NFC", name)
    assert project_name_problem(slugify(title)) is None


def test_a_title_with_no_letters_gets_a_short_hash_so_two_do_not_collide() -> None:
    rocket, party = slugify("🚀🚀"), slugify("🎉")
    assert rocket.startswith("plan-")
    assert len(rocket) == len("plan-") + 6
    assert rocket != party
    assert slugify("🚀🚀") == rocket  # the same title, the same name


def test_a_long_title_is_cut_to_the_slug_length() -> None:
    assert len(slugify("Ж" * 100)) == SLUG_MAX
    assert len(slugify("word " * 40)) <= SLUG_MAX
    assert not slugify("word " * 40).endswith("-")


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=80))
def test_every_title_gives_a_valid_project_name(title: str) -> None:
    name = slugify(title)
    assert project_name_problem(name) is None, (name, project_name_problem(name))


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "is empty"),
        ("Demo", "contains 'D'"),
        ("-x", "starts with '-'"),
        ("\u0301x", "starts with"),
        ("a b", "contains a space"),
        ("a/b", "contains '/'"),
        ("x.lock", "ends with '.lock'"),
        ("a..b", "contains '..'"),
        ("🚀", "starts with"),
        ("e\u0301", "normal form C"),
        ("ж" * (PROJECT_NAME_MAX + 1), "longer than"),
    ],
)
def test_names_that_cannot_be_a_folder_and_a_branch_part(name: str, rule: str) -> None:
    problem = project_name_problem(name)
    assert problem is not None
    assert rule in problem


def test_unique_name_adds_the_first_free_suffix() -> None:
    assert unique_name("demo", set()) == "demo"
    assert unique_name("demo", {"demo"}) == "demo-2"
    assert unique_name("demo", {"demo", "demo-2", "demo-3"}) == "demo-4"


def test_unique_name_keeps_a_long_name_within_the_limit() -> None:
    base = "a" * (PROJECT_NAME_MAX - 1) + "-"  # the cut must not leave "--"
    taken = {base} | {f"{'a' * (PROJECT_NAME_MAX - 2)}-{n}" for n in range(2, 12)}
    name = unique_name(base, taken)
    assert name not in taken
    assert len(name) <= PROJECT_NAME_MAX
    assert project_name_problem(name) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=70), st.sets(st.text(max_size=70), max_size=5), st.integers(0, 12))
def test_unique_name_is_free_valid_and_close_to_the_base(
    title: str, others: set[str], clashes: int
) -> None:
    base = slugify(title)
    taken = {slugify(t) for t in others} | {base} | {f"{base}-{n}" for n in range(2, clashes)}
    name = unique_name(base, taken)
    assert name not in taken
    assert project_name_problem(name) is None
    assert name.startswith(base[: SLUG_MAX // 2].rstrip("-."))
