"""The trade model: exact decimals, canonical form, queue messages."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from trading_shared.trade import (
    TradeValidationError,
    loads,
    parse_trade,
    parse_trade_request,
    trade_from_message,
)

from tests.lambda_src.helpers import message, trade


def test_json_numbers_stay_exact_decimals() -> None:
    # GIVEN a price that binary floats cannot represent
    text = json.dumps(trade()).replace('"187.12345678"', "0.30000001")

    # WHEN it is parsed
    request = parse_trade_request(loads(text))

    # THEN it is the exact decimal, and the canonical JSON carries it as a string
    assert request.trade.limit_price == Decimal("0.30000001")
    assert json.loads(request.trade.to_json())["limit_price"] == "0.30000001"


def test_equivalent_spellings_give_the_same_canonical_trade() -> None:
    # GIVEN the same order spelled differently (case of UUID, zeros, offset, number vs string)
    a = trade(trade_id="123e4567-e89b-42d3-a456-426614174000", quantity="10.50",
              client_timestamp="2024-05-01T14:00:00+02:00")  # fmt: skip
    b = trade(trade_id="123E4567-E89B-42D3-A456-426614174000", quantity=Decimal("10.5"),
              client_timestamp="2024-05-01T12:00:00.000000Z")  # fmt: skip

    # WHEN both are parsed
    # THEN their canonical JSON is byte-identical
    assert parse_trade_request(a).trade.to_json() == parse_trade_request(b).trade.to_json()


def test_canonical_message_round_trips_and_omits_the_session_token() -> None:
    # GIVEN a parsed API order
    request = parse_trade_request(trade())

    # WHEN it is written as a queue message and read back
    body = request.trade.to_json()

    # THEN the token is not in it and the trade is unchanged
    assert "session_token" not in body
    assert trade_from_message(body) == request.trade


def test_queue_message_may_not_carry_a_session_token() -> None:
    # GIVEN a message carrying the API's session token
    # WHEN it is parsed as a queue message, THEN the token is refused as an unknown field
    with pytest.raises(TradeValidationError, match="session_token: is not a known field"):
        parse_trade(trade())


def test_large_exponents_are_written_without_exponent() -> None:
    # GIVEN a quantity written as 1E+2 after normalisation
    parsed = parse_trade(message(quantity=Decimal("100.000")))

    # WHEN it is serialised, THEN it is the plain number
    assert json.loads(parsed.to_json())["quantity"] == "100"


def test_each_error_names_its_field() -> None:
    # GIVEN an order with several bad fields
    # WHEN it is parsed
    with pytest.raises(TradeValidationError) as caught:
        parse_trade_request(trade(side="HOLD", quantity="abc", limit_price=...))

    # THEN one error per field, each with a message
    assert {e.field for e in caught.value.errors} == {"side", "quantity", "limit_price"}
