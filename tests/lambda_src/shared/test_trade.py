"""The trade model: exact decimals, canonical form, queue messages."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from trading_shared.trade import (
    TRADE_FIELDS,
    FieldError,
    Trade,
    TradeValidationError,
    _parse_fields,
    _parse_valid,
    _unexpected_fields,
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


# Payloads on both sides of every rule the processor's fast path checks.
AGREEMENT_CASES = {
    "limit": {},
    "market": {"order_type": "MARKET", "limit_price": ...},
    "market with a price": {"order_type": "MARKET"},
    "market with a null price": {"order_type": "MARKET", "limit_price": None},
    "limit without a price": {"limit_price": ...},
    "limit with a null price": {"limit_price": None},
    "numeric amounts": {"quantity": Decimal("3"), "limit_price": 5},
    "boolean quantity": {"quantity": True},
    "zero quantity": {"quantity": "0"},
    "too many decimals": {"quantity": "1.123456789"},
    "trailing zeros past the scale": {"quantity": "1.1234567800"},
    "exponent amount": {"limit_price": "1E+2"},
    "upper-case uuid": {"trade_id": "123E4567-E89B-42D3-A456-426614174000"},
    "braced uuid": {"trade_id": "{123e4567-e89b-42d3-a456-426614174000}"},
    "lower-case symbol": {"symbol": "aapl"},
    "unknown side": {"side": "HOLD"},
    "null side": {"side": None},
    "offset timestamp": {"client_timestamp": "2024-05-01T14:00:00+02:00"},
    "naive timestamp": {"client_timestamp": "2024-05-01T12:00:00"},
    "unknown field": {"limitPrice": "1"},
    "missing account": {"account_id": ...},
}


@pytest.mark.parametrize("overrides", AGREEMENT_CASES.values(), ids=AGREEMENT_CASES.keys())
def test_fast_path_agrees_with_the_full_check(overrides: dict[str, object]) -> None:
    # GIVEN a payload as a queue message may carry it
    payload = message(**overrides)

    # WHEN the processor's fast path and the full check (which names every error) parse it
    errors: list[FieldError] = []
    full = _parse_fields(payload, errors) if not _unexpected_fields(payload, TRADE_FIELDS) else None
    try:
        fast: Trade | None = _parse_valid(payload)
    except (ValueError, KeyError, TypeError):
        fast = None

    # THEN both accept it as the same trade, or both refuse it
    assert fast == (full if not errors else None)
