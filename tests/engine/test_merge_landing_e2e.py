"""Merge landing end to end: a real engine, real git, the script agent as worker and
reviewer (issue 10). A rejected change comes back with the numbered issues and is fixed
in the worker's session; "nothing to do" is skipped; git conflicts go to the worker with
both sides' logs; red CI on the merge goes back to the worker; main gets each change once.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from plait.testing.gitrepo import run_git
from tests.api.helpers_live import Live

pytestmark = pytest.mark.slow


def _turn(say: str, *actions: dict[str, Any]) -> dict[str, Any]:
    return {"say": say, "actions": list(actions)}


def _write(path: str, content: str, message: str) -> list[dict[str, Any]]:
    return [{"write": path, "content": content}, {"commit": message}]


def _project(live: Live, *extra: str) -> None:
    live.ok(
        "init", "--repo", str(live.repo), "--project", "p", "--script", str(live.script), *extra
    )


def _add(live: Live, title: str, *extra: str) -> None:
    live.ok("add", title, "--landing", "merge", "-p", "p", *extra)


def _run(live: Live) -> dict[str, dict[str, Any]]:
    done = live.plait("resume", "p", "--json", timeout=180)
    assert "Traceback" not in done.stderr, done.stderr
    return live.rows("p")


def _transcript(live: Live, task: str) -> list[tuple[str, dict[str, Any]]]:
    db = live.home() / "p" / "plait.db"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT kind, body FROM transcripts WHERE task = ? ORDER BY id", (task,)
        ).fetchall()
    return [(str(k), json.loads(b)) for k, b in rows]


def _landed(live: Live, task: str) -> int:
    return run_git("log", "--format=%H", f"--grep=Plait-Task: {task}", "main", cwd=live.repo).count(
        "\n"
    )


def test_a_rejected_change_is_fixed_with_the_numbered_issues_and_lands_once(tmp_path: Path) -> None:
    script = {
        "default": {
            "start": [_turn("wrote it", *_write("calc.py", "def add(a, b): return a+b\n", "add"))],
            "changes": [_turn("tested", *_write("test_calc.py", "assert True\n", "test"))],
            "verdict": [
                _turn("VERDICT: NEEDS_CHANGES\n\n1. calc.py: add a test for add()"),
                _turn("Good now.\nVERDICT: APPROVED"),
            ],
        }
    }
    live = Live.make(tmp_path, script)
    _project(live)
    _add(live, "Add an adder", "--id", "adder", "--body", "write add(a, b)")
    rows = _run(live)
    assert rows["adder"]["status"] == "merged"
    assert _landed(live, "adder") == 1
    files = live.main_files()
    assert "test_calc.py" in files
    assert "calc.py" in files
    transcript = _transcript(live, "adder")
    reviews = [body["text"] for kind, body in transcript if kind == "ReviewPrompt"]
    assert len(reviews) == 2
    assert "write add(a, b)" in reviews[0]
    assert "+def add(a, b): return a+b" in reviews[0]  # the diff
    assert "The previous review (round 1)" in reviews[1]
    assert "1. calc.py: add a test for add()" in reviews[1]
    prompts = [body["text"] for kind, body in transcript if kind == "Prompt"]
    assert "A reviewer asked for changes" in prompts[1]
    assert "1. calc.py: add a test for add()" in prompts[1]
    started = [body["session_id"] for kind, body in transcript if kind == "SessionStarted"]
    fix_session = [body["session"] for kind, body in transcript if kind == "Prompt"][1]
    assert fix_session == started[0]  # the fix round resumed the worker's session


def test_nothing_to_do_is_skipped_with_its_reason_and_main_is_untouched(tmp_path: Path) -> None:
    script = {"default": {"start": [_turn("Looked.\nNOTHING TO DO: README already says it")]}}
    live = Live.make(tmp_path, script)
    _project(live)
    before = run_git("rev-parse", "main", cwd=live.repo).strip()
    _add(live, "Document it", "--id", "doc")
    rows = _run(live)
    assert rows["doc"]["status"] == "skipped"
    assert run_git("rev-parse", "main", cwd=live.repo).strip() == before
    assert "plait/p/doc" not in run_git("branch", "--list", cwd=live.repo)


def test_a_conflict_with_main_goes_to_the_worker_with_both_sides_and_lands(tmp_path: Path) -> None:
    resolve = _turn(
        "resolved",
        {"merge": True},
        {"write": "shared.txt", "content": "both\n"},
        {"commit": "resolve"},
    )
    script = {
        "tasks": {
            "one": {"start": [_turn("one", *_write("shared.txt", "one\n", "one"))]},
            "two": {"start": [_turn("two", *_write("shared.txt", "two\n", "two"))]},
        },
        "default": {"conflict": [resolve], "verdict": [_turn("VERDICT: APPROVED")]},
    }
    live = Live.make(tmp_path, script)
    _project(live)
    _add(live, "One", "--id", "one")
    _add(live, "Two", "--id", "two")
    rows = _run(live)
    assert rows["one"]["status"] == rows["two"]["status"] == "merged"
    assert _landed(live, "one") == _landed(live, "two") == 1
    assert live.main_files()["shared.txt"] == "both\n"
    conflicts = [
        body["text"]
        for task in ("one", "two")
        for kind, body in _transcript(live, task)
        if kind == "Prompt" and "Merge conflict" in body["text"]
    ]
    assert len(conflicts) == 1
    assert "since your branch left it" in conflicts[0]
    assert "shared.txt" in conflicts[0]


def test_red_ci_on_the_merge_goes_back_to_the_worker(tmp_path: Path) -> None:
    check = "import pathlib, sys; sys.exit(pathlib.Path('ok.txt').read_text() != 'green\\n')"
    script = {
        "default": {
            "start": [_turn("did", *_write("ok.txt", "red\n", "first"))],
            "ci": [_turn("fixed", *_write("ok.txt", "green\n", "fix"))],
            "verdict": [_turn("VERDICT: APPROVED")],
        }
    }
    live = Live.make(tmp_path, script)
    _project(live, "--ci", f"python3 -c {json.dumps(check)}")
    _add(live, "Make it green", "--id", "green")
    rows = _run(live)
    assert rows["green"]["status"] == "merged"
    assert live.main_files()["ok.txt"] == "green\n"
    assert rows["green"]["ci_failures"] == 1


def test_a_reviewer_verdict_gates_a_pr_landing_and_its_issues_come_back_as_threads(
    tmp_path: Path,
) -> None:
    script = {
        "default": {
            "start": [_turn("wrote", *_write("api.py", "def get(): ...\n", "api"))],
            "review": [_turn("1. documented", *_write("api.py", '"""Docs."""\n', "docs"))],
            "verdict": [
                _turn("VERDICT: NEEDS_CHANGES\n\n1. api.py: add a module docstring"),
                _turn("VERDICT: APPROVED"),
            ],
        }
    }
    live = Live.make(tmp_path, script)
    (live.repo / "plait.toml").write_text("[review]\nprs = true\n")
    run_git("add", "plait.toml", cwd=live.repo)
    run_git("commit", "-qm", "review PRs", cwd=live.repo)
    _project(live)
    live.ok("add", "An API", "--id", "api", "-p", "p")  # landing pr
    rows = _run(live)
    assert rows["api"]["status"] == "merged"
    assert rows["api"]["pr"]
    assert live.main_files()["api.py"] == '"""Docs."""\n'
    prompts = [body["text"] for kind, body in _transcript(live, "api") if kind == "Prompt"]
    review_turn = next(p for p in prompts if "Review comments on your task" in p)
    assert "api.py: add a module docstring" in review_turn
    assert "@plait-reviewer" in review_turn
    reviews = [body["text"] for kind, body in _transcript(live, "api") if kind == "ReviewPrompt"]
    assert len(reviews) == 2
