"""`replace(obj, **changes)` for the core's frozen dataclasses, about twice as fast as
`dataclasses.replace`.

Why. Deciding one event copies a handful of `TaskState`s (55 fields) and the state
around them; `dataclasses.replace` spent about a third of `decide` (P2 in
bench/README.md) going through `fields()` and the generated `__init__`, which sets every
field a second time. The core's dataclasses have no `__post_init__` and no `init=False`
fields, so a copy that sets each field once is the same object `__init__` would make;
a class that has either is copied by `dataclasses.replace` as before.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T")

# Per class: its field names, or None when `dataclasses.replace` must do the copy.
_NAMES: dict[type, tuple[str, ...] | None] = {}
_make = object.__new__
_put = object.__setattr__


def replace(obj: T, /, **changes: object) -> T:
    """`obj` with `changes` (as `dataclasses.replace`; unknown names raise TypeError)."""
    cls = type(obj)
    try:
        names = _NAMES[cls]
    except KeyError:
        names = _NAMES[cls] = _names(cls)
    if names is None:
        return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
    new = _make(cls)
    for name in names:
        _put(new, name, changes.pop(name) if name in changes else getattr(obj, name))
    if changes:
        raise TypeError(f"{cls.__name__} has no field(s) {sorted(changes)}")
    return new


def _names(cls: type) -> tuple[str, ...] | None:
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or not all(f.init for f in fields):
        return None
    return tuple(f.name for f in fields)
