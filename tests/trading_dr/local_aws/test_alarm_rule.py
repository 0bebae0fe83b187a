"""Composite AlarmRule: the parser against a brute-force truth table, and its errors."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_dr.local_aws import alarm_rule
from trading_dr.local_aws.alarm_eval import STATES

NAMES = ("a", "b-2", "arn:aws:cloudwatch:us-east-2:123456789012:alarm:c")

# A rule as a tree of tuples: ("fn", state, name) | ("const", bool) | ("not", x) |
# ("and"|"or", x, y); rendered with every compound term in parentheses.
leaves = st.one_of(
    st.tuples(st.just("fn"), st.sampled_from(alarm_rule.FUNCTIONS), st.sampled_from(NAMES)),
    st.tuples(st.just("const"), st.booleans()),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=8,
)


def _render(tree: tuple, quote: bool) -> str:  # type: ignore[type-arg]
    match tree:
        case ("fn", state, name):
            return f'{state}("{name}")' if quote or ":" in name else f"{state}({name})"
        case ("const", value):
            return "TRUE" if value else "FALSE"
        case ("not", operand):
            return f"NOT ({_render(operand, quote)})"
        case (op, left, right):
            return f"({_render(left, quote)}) {op.upper()} ({_render(right, quote)})"
    raise AssertionError(tree)


def _truth(tree: tuple, states: dict[str, str]) -> bool:  # type: ignore[type-arg]
    match tree:
        case ("fn", state, name):
            return bool(states[name] == state)
        case ("const", value):
            return bool(value)
        case ("not", operand):
            return not _truth(operand, states)
        case ("and", left, right):
            return _truth(left, states) and _truth(right, states)
        case ("or", left, right):
            return _truth(left, states) or _truth(right, states)
    raise AssertionError(tree)


@settings(max_examples=150, deadline=None)
@given(tree=trees, quote=st.booleans())
def test_parsed_rule_agrees_with_the_truth_table(tree: tuple, quote: bool) -> None:  # type: ignore[type-arg]
    expr = alarm_rule.parse(_render(tree, quote))
    for combination in itertools.product(STATES, repeat=len(NAMES)):
        states = dict(zip(NAMES, combination, strict=True))
        assert alarm_rule.holds(expr, states) == _truth(tree, states)


@pytest.mark.parametrize(
    ("rule", "states", "expected"),
    [
        ('ALARM("x") AND ALARM("y")', {"x": "ALARM", "y": "ALARM"}, True),
        ('ALARM("x") AND ALARM("y")', {"x": "ALARM", "y": "OK"}, False),
        # NOT binds tighter than AND, AND tighter than OR.
        ("NOT ALARM(x) AND OK(y)", {"x": "OK", "y": "OK"}, True),
        ("ALARM(x) OR ALARM(y) AND FALSE", {"x": "ALARM", "y": "OK"}, True),
        ("INSUFFICIENT_DATA(x)", {"x": "INSUFFICIENT_DATA"}, True),
    ],
)
def test_rules_table(rule: str, states: dict[str, str], expected: bool) -> None:
    assert alarm_rule.holds(alarm_rule.parse(rule), states) is expected


@pytest.mark.parametrize(
    "rule",
    ["", "ALARM()", "ALARM(x", "ALARM(x) AND", "ALARM(x) x", "SOMETIMES(x)", '"x"', "(TRUE"],
)
def test_malformed_rules_are_refused(rule: str) -> None:
    with pytest.raises(alarm_rule.AlarmRuleError):
        alarm_rule.parse(rule)


def test_a_rule_reading_an_unknown_alarm_is_an_error() -> None:
    with pytest.raises(alarm_rule.AlarmRuleError, match="does not exist"):
        alarm_rule.holds(alarm_rule.parse("OK(ghost)"), {})


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list('()" ANDORTUEFLSKXI_abc:-')), max_size=40))
def test_any_text_parses_or_is_refused_clearly(text: str) -> None:
    try:
        expr = alarm_rule.parse(text)
    except alarm_rule.AlarmRuleError:
        return
    states = dict.fromkeys(alarm_rule.referenced(expr), "OK")
    assert isinstance(alarm_rule.holds(expr, states), bool)
