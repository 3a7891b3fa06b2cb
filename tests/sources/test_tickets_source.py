"""The tickets folder as a live source: tickets become queue tasks once, malformed ones are
reported at file:line and left in place, dependencies wait for their tickets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from plait.api.swarm_view import reported_problems
from plait.sources.tickets import PROBLEMS_KEY, TicketsSource
from tests.sources.helpers import Project


def _look(project: Project, source: TicketsSource) -> None:
    asyncio.run(source.look(project.ctx()))


def _problems(project: Project) -> list[str]:
    return reported_problems(project.store.get_meta(f"source:tickets:{PROBLEMS_KEY}"))


def test_tickets_become_queue_tasks_once_and_bad_ones_stay_reported(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "login.md").write_text(
        "---\nsummary: Add a login page\nacceptance: [a form]\n---\nbody\n"
    )
    (folder / "cache.json").write_text(
        json.dumps({"summary": "Fix the cache", "difficulty": "hard"})
    )
    (folder / "broken.md").write_text("---\nid: broken\nsummary: x\ncolour: red\n---\n")
    (folder / "README.md").write_text("# How to write tickets\n")
    (folder / ".hidden.md").write_text("not read")
    project = Project(tmp_path)
    source = TicketsSource(folder, landing="merge")
    _look(project, source)
    specs = project.state.specs
    assert sorted(specs) == ["cache", "login"]
    assert specs["login"].acceptance == ("a form",)
    assert specs["login"].queue == "tasks"
    assert specs["login"].landing == "merge"
    assert specs["login"].origin == "tickets"
    assert specs["cache"].weight == 3
    assert _problems(project) == [
        "tasks/broken.md:4: unknown key 'colour' — known: acceptance, acceptance_criteria, "
        "dependencies, depends_on, description, difficulty, files, id, summary, title"
    ]
    assert (folder / "broken.md").exists()  # left in place, never lost
    _look(project, source)
    assert len(project.events) == 1  # nothing added twice
    (folder / "broken.md").write_text("---\nid: broken\nsummary: fixed now\n---\n")
    _look(project, source)
    assert "broken" in project.state.specs
    assert _problems(project) == []


def test_a_ticket_waits_for_its_dependency_to_be_a_ticket_or_a_task(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.md").write_text("---\nsummary: b\ndependencies: [a]\n---\n")
    (folder / "c.md").write_text("---\nsummary: c\ndependencies: [b]\n---\n")
    project = Project(tmp_path)
    source = TicketsSource(folder)
    _look(project, source)
    assert project.state.specs == {}
    assert sorted(_problems(project)) == ["ticket b waits for a", "ticket c waits for b"]
    (folder / "a.md").write_text("---\nsummary: a\n---\n")
    _look(project, source)
    assert sorted(project.state.specs) == ["a", "b", "c"]
    assert project.state.specs["c"].depends_on == ("b",)


def test_two_tickets_with_one_id_and_a_circle_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "x.md").write_text("---\nid: same\nsummary: one\n---\n")
    (folder / "y.md").write_text("---\nid: same\nsummary: two\n---\n")
    (folder / "p.md").write_text("---\nsummary: p\ndependencies: [q]\n---\n")
    (folder / "q.md").write_text("---\nsummary: q\ndependencies: [p]\n---\n")
    project = Project(tmp_path)
    _look(project, TicketsSource(folder))
    problems = _problems(project)
    assert any("tasks/y.md:2: id 'same' is also the id of tasks/x.md" in p for p in problems)
    assert sum("go in a circle" in p for p in problems) == 2
    assert sorted(project.state.specs) == ["same"]  # the first of the two, not the circle
    assert project.state.specs["same"].title == "one"
