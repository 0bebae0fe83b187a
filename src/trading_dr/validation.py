"""Build frozen dataclasses from parsed YAML, collecting every problem with its field path.

The environment model used pydantic; importing it and building its validators cost about
0.2 s of every `generate.py` run, most of the generator's budget. The model needs only
a small part of it: exact keys, a handful of types (text, whole numbers with bounds,
literals, enums, fixed and open tuples, string maps, optional values, nested settings)
and per-field checks that may read the fields before them. This module is that part.

A dataclass opts in with field annotations; a check is a classmethod named
`_check_<field>(cls, value, earlier)` that returns the value or raises ValueError with a
message that ends in `fix: ...`; `earlier` holds the fields declared before it that passed.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeVar, Union

T = TypeVar("T")
Path = tuple[int | str, ...]


@dataclass(frozen=True)
class Bounds:
    """Inclusive range of a whole number: `Annotated[int, Bounds(7, 35)]`."""

    ge: int
    le: int


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str

    @property
    def field(self) -> str:
        return ".".join(str(part) for part in self.path) or "(top level)"


class SettingsError(Exception):
    """Raised by `build` with every problem found, in field order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))


class _ProblemsError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems


def build(cls: type[T], data: Any) -> T:
    """An instance of dataclass `cls` from `data`, or SettingsError listing every problem."""
    try:
        value: T = _convert(cls, data, ())
    except _ProblemsError as failed:
        raise SettingsError(failed.problems) from None
    return value


@cache
def _fields(cls: type) -> tuple[tuple[dataclasses.Field[Any], Any], ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple((f, hints[f.name]) for f in dataclasses.fields(cls) if f.init)


def _problem(path: Path, message: str) -> _ProblemsError:
    return _ProblemsError([Problem(path, message)])


def _convert(kind: Any, value: Any, path: Path) -> Any:  # noqa: PLR0911 (a return per type)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _dataclass(kind, value, path)
    origin = typing.get_origin(kind)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(kind)
        converted = _convert(base, value, path)
        for extra in extras:
            if isinstance(extra, Bounds):
                _bounds(extra, converted, path)
        return converted
    if origin is Literal:
        allowed = typing.get_args(kind)
        if value in allowed and type(value) in {type(a) for a in allowed}:
            return value
        raise _problem(
            path, f"must be {_alternatives(allowed)} (got {value!r}); fix: use one of those"
        )
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if value is None:
            return None
        return _convert(options[0], value, path)
    if origin is tuple:
        return _tuple(typing.get_args(kind), value, path)
    if origin is dict:
        return _mapping(typing.get_args(kind), value, path)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            allowed = tuple(member.value for member in kind)
            raise _problem(
                path, f"must be {_alternatives(allowed)} (got {value!r}); fix: use one of those"
            ) from None
    if kind is str:
        if not isinstance(value, str):
            raise _problem(path, f"expected text (got {value!r}); fix: quote the value in YAML")
        return value.strip()
    if kind is int:
        return _whole_number(value, path)
    raise TypeError(f"unsupported settings type {kind!r} at {path}")  # a programming error


def _dataclass(cls: type, value: Any, path: Path) -> Any:
    if not isinstance(value, Mapping):
        raise _problem(path, f"expected a mapping (got {value!r}); fix: see environments/prod.yaml")
    fields = _fields(cls)
    names = [f.name for f, _ in fields]
    problems = [
        Problem((*path, key), _unknown_key(str(key), names)) for key in value if key not in names
    ]
    accepted: dict[str, Any] = {}
    for field, kind in fields:
        here = (*path, field.name)
        if field.name not in value:
            if (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                problems.append(
                    Problem(
                        here, "required key is missing; fix: add it (see environments/prod.yaml)"
                    )
                )
            continue
        try:
            converted = _convert(kind, value[field.name], here)
            check: Callable[[Any, Mapping[str, Any]], Any] | None = getattr(
                cls, f"_check_{field.name}", None
            )
            if check is not None:
                converted = _run_check(check, converted, accepted, here)
        except _ProblemsError as failed:
            problems.extend(failed.problems)
            continue
        accepted[field.name] = converted
    if problems:
        raise _ProblemsError(problems)
    return cls(**accepted)


def _run_check(
    check: Callable[[Any, Mapping[str, Any]], Any],
    value: Any,
    earlier: Mapping[str, Any],
    path: Path,
) -> Any:
    try:
        return check(value, earlier)
    except ValueError as exc:
        message = str(exc)
        if "fix:" not in message:
            message = (
                f"{message} (got {value!r}); fix: see environments/prod.yaml for a valid value"
            )
        raise _problem(path, message) from None


def _unknown_key(key: str, names: list[str]) -> str:
    close = difflib.get_close_matches(key, names, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "remove it"
    return f"unknown key; fix: {hint}"


def _whole_number(value: Any, path: Path) -> int:
    # As YAML gives it, or digits in quotes; a bool is not a number here.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise _problem(path, f"expected a whole number (got {value!r}); fix: write digits only")


def _bounds(bounds: Bounds, value: int, path: Path) -> None:
    if value < bounds.ge:
        raise _problem(
            path, f"must be at least {bounds.ge} (got {value!r}); fix: use {bounds.ge} or more"
        )
    if value > bounds.le:
        raise _problem(
            path, f"must be at most {bounds.le} (got {value!r}); fix: use {bounds.le} or less"
        )


def _tuple(args: tuple[Any, ...], value: Any, path: Path) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise _problem(path, f"expected a list (got {value!r}); fix: write [a, b]")
    if len(args) == 2 and args[1] is Ellipsis:
        kinds = [args[0]] * len(value)
    else:
        kinds = list(args)
        if len(value) < len(kinds):
            raise _problem(
                path, "too few entries; fix: give exactly two, one per availability zone"
            )
        if len(value) > len(kinds):
            raise _problem(
                path, "too many entries; fix: give exactly two, one per availability zone"
            )
    items, problems = [], []
    for index, (kind, item) in enumerate(zip(kinds, value, strict=True)):
        try:
            items.append(_convert(kind, item, (*path, index)))
        except _ProblemsError as failed:
            problems.extend(failed.problems)
    if problems:
        raise _ProblemsError(problems)
    return tuple(items)


def _mapping(args: tuple[Any, ...], value: Any, path: Path) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise _problem(path, f"expected a mapping (got {value!r}); fix: see environments/prod.yaml")
    key_kind, value_kind = args
    result, problems = {}, []
    for key, item in value.items():
        try:
            result[_convert(key_kind, key, (*path, str(key)))] = _convert(
                value_kind, item, (*path, str(key))
            )
        except _ProblemsError as failed:
            problems.extend(failed.problems)
    if problems:
        raise _ProblemsError(problems)
    return result


def _alternatives(allowed: tuple[Any, ...]) -> str:
    shown = [repr(a) for a in allowed]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
