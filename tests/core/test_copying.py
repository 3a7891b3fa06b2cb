"""core.copying.replace makes the same objects as dataclasses.replace."""

from __future__ import annotations

import dataclasses

import pytest

from plait.core.copying import replace
from plait.core.model import Phase, RunConfig, TaskState, Usage


def test_the_copy_equals_what_dataclasses_replace_makes() -> None:
    t = TaskState(id="a", turns=2)
    got = replace(t, turns=3, phase=Phase.ACTIVE, usage=Usage(input_tokens=5))
    assert got == dataclasses.replace(t, turns=3, phase=Phase.ACTIVE, usage=Usage(input_tokens=5))
    assert type(got) is TaskState
    assert t.turns == 2  # the original is left as it was
    assert replace(RunConfig(project="p", repo="/r"), max_concurrency=3).max_concurrency == 3


def test_an_unknown_field_is_refused() -> None:
    with pytest.raises(TypeError, match="no field"):
        replace(TaskState(id="a"), turn=1)


@dataclasses.dataclass(frozen=True)
class _Checked:
    n: int

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError("negative")


def test_a_class_with_post_init_still_runs_it() -> None:
    assert replace(_Checked(1), n=2) == _Checked(2)
    with pytest.raises(ValueError, match="negative"):
        replace(_Checked(1), n=-1)


def test_the_state_and_its_tasks_are_copied_through_their_dicts() -> None:
    """The state and its tasks keep their fields in an instance dict, copied in one call
    (P2): a copy holds exactly the fields, the changed ones changed."""
    t = TaskState(id="a", turns=2)
    got = replace(t, turns=3)
    assert vars(got) == {**vars(t), "turns": 3}
    assert set(vars(got)) == {f.name for f in dataclasses.fields(TaskState)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.turns = 4  # type: ignore[misc]
