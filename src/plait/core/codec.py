"""Events, effects and state to and from plain JSON values. Pure, driven by type hints.

Events and effects are tagged with their class name (`{"type": "Pushed", ...}`) so the
store can hold them in one column and decode them back to the same frozen values; replay
depends on `decode(encode(x)) == x`.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping
from functools import cache

from plait.core.cooldown import Cooldown
from plait.core.effects import EFFECT_TYPES, Effect
from plait.core.events import EVENT_TYPES, Event
from plait.core.model import RunState

JSON = None | bool | int | float | str | list["JSON"] | dict[str, "JSON"]

_TAGGED: dict[str, type[object]] = {t.__name__: t for t in (*EVENT_TYPES, *EFFECT_TYPES)}


class CodecError(ValueError):
    """Stored data that does not decode (a corrupt or incompatible store)."""


def encode(value: object) -> JSON:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, enum.Enum):
        return typing.cast(JSON, value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, JSON] = {}
        if type(value).__name__ in _TAGGED:
            out["type"] = type(value).__name__
        for f in dataclasses.fields(value):
            out[f.name] = encode(getattr(value, f.name))
        return out
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    raise CodecError(f"cannot encode {type(value).__name__}")


@cache
def _hints(cls: type[object]) -> dict[str, object]:
    return typing.get_type_hints(cls)


def decode_as(tp: object, data: JSON) -> object:
    """Decode `data` as type `tp` (a class or a typing form)."""
    origin = typing.get_origin(tp)
    if tp is typing.Any or tp is object:
        return data
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return decode_as(arg, data)
            except (CodecError, TypeError, ValueError, KeyError) as exc:
                errors.append(str(exc))
        raise CodecError(f"no variant of {tp} fits: {errors}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise CodecError(f"expected a list for {tp}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode_as(args[0], v) for v in data)
        return tuple(decode_as(a, v) for a, v in zip(args, data, strict=True))
    if origin in (Mapping, dict, typing.Mapping):
        _, val_tp = typing.get_args(tp)
        if not isinstance(data, dict):
            raise CodecError(f"expected an object for {tp}")
        return {k: decode_as(val_tp, v) for k, v in data.items()}
    if isinstance(tp, type):
        return _decode_class(tp, data)
    raise CodecError(f"cannot decode type {tp}")


def _decode_class(tp: type[object], data: JSON) -> object:
    if issubclass(tp, enum.Enum):
        return tp(data)
    if tp is bool:
        if not isinstance(data, bool):
            raise CodecError("expected a boolean")
        return data
    if tp is float:
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise CodecError("expected a number")
        return float(data)
    if tp in (int, str):
        if not isinstance(data, tp) or isinstance(data, bool):
            raise CodecError(f"expected {tp.__name__}")
        return data
    if dataclasses.is_dataclass(tp):
        if not isinstance(data, dict):
            raise CodecError(f"expected an object for {tp.__name__}")
        tag = data.get("type")
        if isinstance(tag, str) and tag in _TAGGED and tag != tp.__name__:
            actual = _TAGGED[tag]
            if not issubclass(actual, tp):
                raise CodecError(f"{tag} is not a {tp.__name__}")
            tp = actual
        hints = _hints(tp)
        kwargs = {
            f.name: decode_as(hints[f.name], data[f.name])
            for f in dataclasses.fields(tp)
            if f.name in data
        }
        return tp(**kwargs)
    raise CodecError(f"cannot decode {tp.__name__}")


def decode_event(data: JSON) -> Event:
    value = decode_as(Event, data)
    assert isinstance(value, Event)
    return value


def decode_effect(data: JSON) -> Effect:
    value = decode_as(Effect, data)
    assert isinstance(value, Effect)
    return value


def decode_cooldowns(data: JSON) -> dict[str, Cooldown]:
    value = decode_as(dict[str, Cooldown], data)
    assert isinstance(value, dict)
    return value


def decode_state(data: JSON) -> RunState:
    value = decode_as(RunState, data)
    assert isinstance(value, RunState)
    return value


T = typing.TypeVar("T")


def decode_typed(tp: type[T], data: JSON) -> T:
    value = decode_as(tp, data)
    assert isinstance(value, tp)
    return value
