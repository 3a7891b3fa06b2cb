"""The early conflict warning in the core: what the watcher reports is kept on the task,
and the optional hint holds a task back while its declared files overlap live work."""

from __future__ import annotations

from plait.core import effects as fx
from plait.core import events as ev
from plait.core.model import Overlap, Phase, RunConfig
from plait.core.overlap import paths_overlap
from plait.core.plan import TaskSpec
from plait.core.progress import settled, stuck_tasks
from plait.testing.core_driver import CoreDriver

HOLD = RunConfig(project="p", repo="/r", max_concurrency=4, hold_overlapping=True)


def _spec(tid: str, *files: str) -> TaskSpec:
    return TaskSpec(id=tid, title=f"do {tid}", files=files)


def _started(d: CoreDriver) -> list[str]:
    return [e.task for e in d.decided(fx.PrepareWorkspace)]


def test_paths_overlap_by_file_or_folder() -> None:
    assert paths_overlap(["src/api/"], ["./src/api/views.py"]) == ("src/api",)
    assert paths_overlap(["src/api.py"], ["src/api"]) == ()
    assert paths_overlap(["a", "b", "a"], ["a"]) == ("a",)
    assert paths_overlap(["", " "], [""]) == ()


def test_overlapping_tasks_run_one_after_the_other_the_rest_side_by_side() -> None:
    specs = [_spec("a", "src/x.py"), _spec("b", "src/"), _spec("c", "docs/y.md"), _spec("d")]
    d = CoreDriver(specs, config=HOLD)
    d.start()
    assert _started(d) == ["a", "c", "d"]
    d.run(until=lambda s: s.tasks["a"].phase is Phase.MERGED)
    assert "b" in _started(d)
    assert all(t.phase is Phase.MERGED for t in d.run().tasks.values())


def test_without_the_hint_declared_files_change_nothing() -> None:
    d = CoreDriver([_spec("a", "x"), _spec("b", "x")], config=RunConfig(project="p", repo="/r"))
    d.start()
    assert _started(d) == ["a", "b"]


def test_a_task_held_behind_a_stuck_one_counts_as_stuck() -> None:
    d = CoreDriver([_spec("a", "x"), _spec("b", "x")], config=HOLD)
    d.script("a", "RunAgent", "fail", "fail", "fail")
    d.run()
    assert settled(d.st)
    assert stuck_tasks(d.st) == {"a", "b"}
    assert d.st.tasks["b"].phase is Phase.WAITING


def test_the_watchers_report_is_kept_until_the_task_lands() -> None:
    d = CoreDriver([_spec("a"), _spec("b")], config=RunConfig(project="p", repo="/r"))
    d.start()
    seen = (Overlap(task="b", paths=("x.py",)), Overlap(paths=("README.md",)))
    d.feed(ev.OverlapsChanged(at=d.now, task="a", overlaps=seen))
    assert d.st.tasks["a"].overlaps == seen
    d.feed(ev.OverlapsChanged(at=d.now, task="nope", overlaps=seen))  # unknown: ignored
    state = d.run()
    assert state.tasks["a"].overlaps == ()
    before = state.tasks["a"]
    d.feed(ev.OverlapsChanged(at=d.now, task="a", overlaps=seen))  # landed: ignored
    assert d.st.tasks["a"] == before
