"""The settings builder: each supported type, check ordering, and hostile input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading_dr.validation import Bounds, SettingsError, build


class Mode(StrEnum):
    FAST = "fast"
    SAFE = "safe"


@dataclass(frozen=True, kw_only=True)
class Inner:
    low: Annotated[int, Bounds(1, 10)] = 5
    high: int = 20

    @classmethod
    def _check_high(cls, value: int, earlier: Mapping[str, Any]) -> int:
        low = earlier.get("low")
        if low is not None and value <= low:
            raise ValueError(f"{value} is not above low ({low}); fix: raise it")
        return value


@dataclass(frozen=True, kw_only=True)
class Outer:
    name: str
    pair: tuple[str, str]
    many: tuple[str, ...] = ()
    interval: Literal[10, 30] = 10
    mode: Mode = Mode.FAST
    zone: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)


VALID: dict[str, Any] = {"name": " a ", "pair": ["x", "y"]}

# (case id, changes to VALID, field named, words in the message)
# fmt: off
BAD = [
    ("unknown-key", {"nmae": "a"}, "nmae", "did you mean 'name'"),
    ("unknown-key-no-match", {"zzzzzz": 1}, "zzzzzz", "remove it"),
    ("missing", {"name": None}, "name", "required key is missing"),
    ("not-text", {"name": 5}, "name", "quote the value"),
    ("pair-too-few", {"pair": ["x"]}, "pair", "too few entries"),
    ("pair-too-many", {"pair": ["x", "y", "z"]}, "pair", "too many entries"),
    ("pair-not-a-list", {"pair": "xy"}, "pair", "write [a, b]"),
    ("open-tuple-item", {"many": ["a", 7]}, "many.1", "quote the value"),
    ("literal", {"interval": 15}, "interval", "10 or 30"),
    ("literal-type", {"interval": "10"}, "interval", "10 or 30"),
    ("enum", {"mode": "slow"}, "mode", "'fast' or 'safe'"),
    ("optional-wrong-type", {"zone": 3}, "zone", "quote the value"),
    ("map-value", {"tags": {"k": 1}}, "tags.k", "quote the value"),
    ("map-not-a-map", {"tags": ["k"]}, "tags", "expected a mapping"),
    ("nested-not-a-map", {"inner": 3}, "inner", "expected a mapping"),
    ("below-bounds", {"inner": {"low": 0}}, "inner.low", "at least 1"),
    ("above-bounds", {"inner": {"low": 11}}, "inner.low", "at most 10"),
    ("not-a-number", {"inner": {"low": "five"}}, "inner.low", "whole number"),
    ("bool-is-not-a-number", {"inner": {"low": True}}, "inner.low", "whole number"),
    ("check-reads-earlier", {"inner": {"low": 9, "high": 9}}, "inner.high", "not above low"),
]
# fmt: on


def _data(changes: dict[str, Any]) -> dict[str, Any]:
    data = {**VALID, **changes}
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.parametrize(
    ("changes", "field_name", "words"), [pytest.param(*c[1:], id=c[0]) for c in BAD]
)
def test_bad_input_names_the_field_and_the_fix(
    changes: dict[str, Any], field_name: str, words: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        build(Outer, _data(changes))
    first = caught.value.problems[0]
    assert first.field == field_name
    assert words in first.message
    assert "fix:" in first.message


def test_valid_input_converts_types_and_fills_defaults() -> None:
    built = build(Outer, {**VALID, "mode": "safe", "inner": {"low": "3"}, "many": ["a"]})
    assert built == Outer(
        name="a", pair=("x", "y"), many=("a",), mode=Mode.SAFE, inner=Inner(low=3, high=20)
    )


def test_every_problem_is_collected_in_field_order() -> None:
    with pytest.raises(SettingsError) as caught:
        build(Outer, {"pair": ["x"], "interval": 15, "inner": {"low": 0}})
    assert [p.field for p in caught.value.problems] == ["name", "pair", "interval", "inner.low"]


def test_a_check_is_skipped_when_what_it_reads_failed() -> None:
    # GIVEN low fails its bounds WHEN high is checked THEN only low's problem is reported
    with pytest.raises(SettingsError) as caught:
        build(Outer, {**VALID, "inner": {"low": 0, "high": 0}})
    assert [p.field for p in caught.value.problems] == ["inner.low"]


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from([*Outer.__dataclass_fields__, "x"]), YAML_VALUES))
def test_any_yaml_value_gives_a_settings_object_or_a_settings_error(data: dict[str, Any]) -> None:
    # Whatever YAML can hold: a result or SettingsError naming fields, never another exception.
    outcome: Outer | SettingsError
    try:
        outcome = build(Outer, data)
    except SettingsError as error:
        outcome = error
    if isinstance(outcome, SettingsError):
        assert outcome.problems
        assert all("fix:" in p.message and p.field for p in outcome.problems)
    else:
        assert isinstance(outcome, Outer)
