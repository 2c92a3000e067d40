"""Task results through XCom: a frozen dataclass out as plain JSON values, and back, typed.

XCom carries references and counts, never data. Every task returns ``to_xcom(outcome)`` and
every task that takes an upstream result calls ``from_xcom(Outcome, value)``: tuples travel as
lists, datetimes and dates as ISO text, nested dataclasses as objects.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def to_xcom(value: Any) -> Any:
    """A dataclass (or any nesting of them) as JSON-able values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: to_xcom(getattr(value, field.name)) for field in dataclasses.fields(value)
        }
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): to_xcom(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_xcom(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # a numpy scalar
        return value.item()
    return value


def from_xcom(cls: type[T], value: Mapping[str, Any]) -> T:
    """Rebuild a dataclass that :func:`to_xcom` flattened, converting each field by its type."""
    hints = typing.get_type_hints(cls)
    fields = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(value) - fields
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
    return cls(**{name: _convert(hints[name], item) for name, item in value.items()})


def _convert(kind: Any, value: Any) -> Any:
    """One value back to the annotated type."""
    if value is None:
        return None
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        for option in arguments:
            if option is not type(None):
                return _convert(option, value)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return from_xcom(kind, value)
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if kind is Path:
        return Path(value)
    if origin is tuple:
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return tuple(_convert(arguments[0], item) for item in value)
        return tuple(_convert(part, item) for part, item in zip(arguments, value, strict=True))
    if origin in (list, Sequence):
        return [_convert(arguments[0], item) for item in value]
    if origin in (dict, Mapping) or kind in (dict, Mapping):
        inner = arguments[1] if len(arguments) == 2 else Any
        return {key: _convert(inner, item) for key, item in value.items()}
    if kind in (int, float, str, bool):
        return kind(value)
    return value
