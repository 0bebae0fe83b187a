"""Composite alarms' `AlarmRule`, parsed and evaluated as CloudWatch documents it.

Syntax (PutCompositeAlarm AlarmRule reference,
https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudwatch/aws.sdk.kotlin.services.cloudwatch.model/-put-composite-alarm-request/alarm-rule.html,
and AWS::CloudWatch::CompositeAlarm,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudwatch-compositealarm.html):
functions `ALARM(x)`, `OK(x)`, `INSUFFICIENT_DATA(x)` (x an alarm name or ARN, in double
quotes or not), the constants `TRUE` and `FALSE`, operators `AND`, `OR`, `NOT` and
parentheses. The reference does not state a precedence between AND and OR; this parser
uses the usual one (NOT, then AND, then OR) and the project's rules parenthesise every
mixed expression, so the rendered rules never depend on it.

A composite alarm is ALARM while its rule is TRUE, else OK.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

FUNCTIONS = ("ALARM", "OK", "INSUFFICIENT_DATA")
_TOKEN = re.compile(r'\s*(?:(?P<paren>[()])|"(?P<quoted>[^"]*)"|(?P<word>[^\s()"]+))')


class AlarmRuleError(ValueError):
    pass


@dataclass(frozen=True)
class StateIs:
    state: str
    alarm: str


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class And:
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Or:
    left: Expr
    right: Expr


Expr = StateIs | Const | Not | And | Or


def _tokens(rule: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(rule):
        if rule[position:].strip() == "":
            break
        found = _TOKEN.match(rule, position)
        if found is None:
            raise AlarmRuleError(f"cannot read the rule at character {position}: {rule!r}")
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


class _Parser:
    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.tokens = _tokens(rule)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise AlarmRuleError(f"the rule ends too early: {self.rule!r}")
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        kind, value = self.take()
        if value != text or kind == "quoted":
            raise AlarmRuleError(f"expected {text!r}, found {value!r} in {self.rule!r}")

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token == ("word", word):
            self.at += 1
            return True
        return False

    def parse(self) -> Expr:
        expr = self.disjunction()
        if self.peek() is not None:
            raise AlarmRuleError(f"unexpected {self.peek()[1]!r} in {self.rule!r}")  # type: ignore[index]
        return expr

    def disjunction(self) -> Expr:
        expr = self.conjunction()
        while self.keyword("OR"):
            expr = Or(expr, self.conjunction())
        return expr

    def conjunction(self) -> Expr:
        expr = self.negation()
        while self.keyword("AND"):
            expr = And(expr, self.negation())
        return expr

    def negation(self) -> Expr:
        if self.keyword("NOT"):
            return Not(self.negation())
        return self.atom()

    def atom(self) -> Expr:
        kind, value = self.take()
        if kind == "paren" and value == "(":
            expr = self.disjunction()
            self.expect(")")
            return expr
        if kind == "word" and value in ("TRUE", "FALSE"):
            return Const(value == "TRUE")
        if kind == "word" and value in FUNCTIONS:
            self.expect("(")
            arg_kind, name = self.take()
            if arg_kind == "paren" or not name:
                raise AlarmRuleError(f"{value}() needs an alarm name or ARN in {self.rule!r}")
            self.expect(")")
            return StateIs(value, name)
        raise AlarmRuleError(f"unexpected {value!r} in {self.rule!r}")


def parse(rule: str) -> Expr:
    return _Parser(rule).parse()


def referenced(expr: Expr) -> set[str]:
    """Every alarm name or ARN the rule reads."""
    match expr:
        case StateIs(alarm=alarm):
            return {alarm}
        case Const():
            return set()
        case Not(operand=operand):
            return referenced(operand)
        case And(left=left, right=right) | Or(left=left, right=right):
            return referenced(left) | referenced(right)
    raise TypeError(expr)  # pragma: no cover - Expr is closed


def holds(expr: Expr, states: Mapping[str, str]) -> bool:
    """The rule's truth given each referenced alarm's state (by name or ARN)."""
    match expr:
        case StateIs(state=state, alarm=alarm):
            if alarm not in states:
                raise AlarmRuleError(f"the rule reads {alarm!r}, which does not exist")
            return states[alarm] == state
        case Const(value=value):
            return value
        case Not(operand=operand):
            return not holds(operand, states)
        case And(left=left, right=right):
            return holds(left, states) and holds(right, states)
        case Or(left=left, right=right):
            return holds(left, states) or holds(right, states)
    raise TypeError(expr)  # pragma: no cover - Expr is closed
