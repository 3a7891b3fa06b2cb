"""`replace(obj, **changes)` for the core's frozen dataclasses, several times as fast as
`dataclasses.replace`.

Why. Deciding one event copies a handful of `TaskState`s (55 fields) and the state
around them; `dataclasses.replace` spent about a third of `decide` (P2 in
bench/README.md) going through `fields()` and the generated `__init__`, which sets every
field a second time. The core's dataclasses have no `__post_init__` and no `init=False`
fields, so a copy that sets each field once is the same object `__init__` would make;
a class that has either is copied by `dataclasses.replace` as before.

How. A class whose instances keep their fields in `__dict__` (the state and its tasks:
`plait.core.model`) is copied by filling the new instance's dict from the old one's and
then from the changes, two C calls: about five times as fast as the slotted copy below
for a 61-field task (P2). For a slotted class the old values are read in one
`attrgetter` call and handed to each slot's own setter by `map`, so the loop over the
fields runs in C; the changed fields are then set again. That is about 1.6 times as fast
as a Python loop over the names (P2). Other classes are copied by that loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from itertools import repeat
from operator import attrgetter, call
from types import MemberDescriptorType
from typing import NamedTuple, TypeVar

T = TypeVar("T")


class _Plan(NamedTuple):
    names: tuple[str, ...]
    known: frozenset[str]
    setters: tuple[Callable[[object, object], None], ...] | None  # None: not slotted
    values: Callable[[object], tuple[object, ...]]  # the fields' values, in order
    by_dict: bool = False  # instances keep their fields in `__dict__`, and only them


# Per class: how to copy it, or None when `dataclasses.replace` must do the copy.
_PLANS: dict[type, _Plan | None] = {}
_make = object.__new__
_put = object.__setattr__


def replace(obj: T, /, **changes: object) -> T:
    """`obj` with `changes` (as `dataclasses.replace`; unknown names raise TypeError)."""
    cls = type(obj)
    try:
        plan = _PLANS[cls]
    except KeyError:
        plan = _PLANS[cls] = _plan(cls)
    if plan is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    if changes and not plan.known.issuperset(changes):
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(set(changes) - plan.known)}")
    new = _make(cls)
    if plan.by_dict:
        fields = new.__dict__
        fields.update(obj.__dict__)
        fields.update(changes)
        return new
    if plan.setters is None:
        for name in plan.names:
            _put(new, name, changes[name] if name in changes else getattr(obj, name))
        return new
    # `any` only drives the loop: every setter returns None.
    any(map(call, plan.setters, repeat(new), plan.values(obj)))
    for name, value in changes.items():
        _put(new, name, value)
    return new


def _plan(cls: type) -> _Plan | None:
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or not all(f.init for f in fields):
        return None
    names = tuple(f.name for f in fields)
    slots = [cls.__dict__.get(name) for name in names]
    known = frozenset(names)
    if not any(isinstance(s, MemberDescriptorType) for s in slots) and _fields_in_dict(cls):
        return _Plan(names, known, None, _unused, by_dict=True)
    if len(names) < 2 or not all(isinstance(s, MemberDescriptorType) for s in slots):
        return _Plan(names, known, None, _unused)
    setters = tuple(s.__set__ for s in slots if isinstance(s, MemberDescriptorType))
    return _Plan(names, known, setters, attrgetter(*names))


def _fields_in_dict(cls: type) -> bool:
    """Do instances keep their fields in an instance dict (no `__slots__` anywhere in
    the class's ancestry that would take some of them)?"""
    return all("__slots__" not in vars(c) for c in cls.__mro__ if c is not object)


def _unused(obj: object) -> tuple[object, ...]:
    return ()  # an unslotted class is copied name by name
