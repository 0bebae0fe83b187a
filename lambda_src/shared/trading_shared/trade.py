"""The trade: validation of untrusted input and its canonical JSON form.

Plain dataclasses rather than pydantic: pydantic-core is a compiled extension, and a zip
built on this machine must run on Lambda's python3.12 runtime whatever its architecture.
Numbers are Decimal end to end (JSON is parsed with parse_float=Decimal) so no price or
quantity is ever rounded through a binary float.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeVar

# NUMERIC(20, 8) in the schema: anything valid here fits the column exactly, so the
# database never rejects (or rounds) a trade that passed validation.
MAX_SCALE = 8
MAX_INTEGER_DIGITS = 12

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
ACCOUNT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.-]{0,15}$")
SESSION_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/=-]{16,512}$")
DECIMAL_TEXT_RE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")

TRADE_FIELDS = (
    "trade_id",
    "account_id",
    "symbol",
    "side",
    "order_type",
    "quantity",
    "limit_price",
    "client_timestamp",
)
REQUEST_FIELDS = (*TRADE_FIELDS, "session_token")

T = TypeVar("T")


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class TradeValidationError(ValueError):
    """Every problem found in one payload, each naming its field."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


@dataclass(frozen=True)
class Trade:
    trade_id: str  # lower-case hyphenated UUID: the idempotency key
    account_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None
    client_timestamp: datetime  # timezone-aware, UTC

    def canonical(self) -> dict[str, str]:
        """Normalised so that two encodings of the same order compare equal."""
        data = {
            "trade_id": self.trade_id,
            "account_id": self.account_id,
            "symbol": self.symbol,
            "side": self.side.value,
            "order_type": self.order_type.value,
            "quantity": decimal_text(self.quantity),
            "client_timestamp": timestamp_text(self.client_timestamp),
        }
        if self.limit_price is not None:
            data["limit_price"] = decimal_text(self.limit_price)
        return data

    def to_json(self) -> str:
        """The queue message body: sorted, compact, decimals as strings, no session token."""
        return json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class TradeRequest:
    trade: Trade
    session_token: str


def decimal_text(value: Decimal) -> str:
    # normalize() drops trailing zeros; "f" keeps 1E+2 from leaking out as an exponent.
    return format(value.normalize(), "f")


def timestamp_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


# One decoder for all calls: json.loads(..., parse_float=...) builds a new one each time.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_reject_constant)


def loads(text: str | bytes) -> Any:
    """json.loads with exact decimals and without NaN/Infinity (which JSON does not have)."""
    return _DECODER.decode(text.decode("utf-8") if isinstance(text, bytes) else text)


def parse_json_body(raw: bytes) -> Any:
    try:
        return loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise TradeValidationError([FieldError("body", "must be UTF-8 encoded")]) from exc
    except ValueError as exc:  # JSONDecodeError and the rejected constants
        raise TradeValidationError([FieldError("body", f"malformed JSON: {exc}")]) from exc


def parse_trade_request(payload: object) -> TradeRequest:
    """An API order: the trade plus the session token that authorises it."""
    data = _as_object(payload)
    errors = _unexpected_fields(data, REQUEST_FIELDS)
    token = data.get("session_token")
    if token is None:
        errors.append(FieldError("session_token", "is required"))
    elif not isinstance(token, str) or not SESSION_TOKEN_RE.match(token):
        errors.append(FieldError("session_token", "must be a string of 16-512 token characters"))
    trade = _parse_fields(data, errors)
    if trade is None or errors:
        raise TradeValidationError(errors)
    assert isinstance(token, str)
    return TradeRequest(trade=trade, session_token=token)


def parse_trade(payload: object) -> Trade:
    """A queue message: the canonical trade, which never carries the session token."""
    data = _as_object(payload)
    try:
        return _parse_valid(data)
    except (ValueError, KeyError, TypeError):
        pass  # something is wrong: the full check below names every problem
    errors = _unexpected_fields(data, TRADE_FIELDS)
    trade = _parse_fields(data, errors)
    if trade is None or errors:
        raise TradeValidationError(errors)
    return trade


def trade_from_message(body: str) -> Trade:
    try:
        payload = loads(body)
    except ValueError as exc:
        raise TradeValidationError([FieldError("body", f"malformed JSON: {exc}")]) from exc
    return parse_trade(payload)


def _as_object(payload: object) -> Mapping[str, Any]:
    if not isinstance(payload, dict):
        raise TradeValidationError([FieldError("body", "must be a JSON object")])
    return payload


def _unexpected_fields(data: Mapping[str, Any], allowed: tuple[str, ...]) -> list[FieldError]:
    # Rejecting unknown fields catches client typos such as "limitPrice" before they
    # silently turn a LIMIT order into something else.
    return [FieldError(str(name), "is not a known field") for name in data if name not in allowed]


def _parse_fields(data: Mapping[str, Any], errors: list[FieldError]) -> Trade | None:
    trade_id = _required(data, "trade_id", errors, _uuid)
    account_id = _required(data, "account_id", errors, _account)
    symbol = _required(data, "symbol", errors, _symbol)
    side = _required(data, "side", errors, _side)
    order_type = _required(data, "order_type", errors, _order_type)
    quantity = _required(data, "quantity", errors, _amount)
    client_timestamp = _required(data, "client_timestamp", errors, _timestamp)

    limit_price: Decimal | None = None
    raw_price = data.get("limit_price")
    if order_type is OrderType.MARKET and raw_price is not None:
        errors.append(FieldError("limit_price", "must be absent for MARKET orders"))
    elif order_type is OrderType.LIMIT:
        limit_price = _required(data, "limit_price", errors, _amount)
    elif order_type is None and raw_price is not None:
        # Still report a malformed price when the order type itself is wrong.
        limit_price = _checked("limit_price", raw_price, errors, _amount)

    if (
        trade_id is None
        or account_id is None
        or symbol is None
        or side is None
        or order_type is None
        or quantity is None
        or client_timestamp is None
        or (order_type is OrderType.LIMIT and limit_price is None)
    ):
        return None
    return Trade(
        trade_id=trade_id,
        account_id=account_id,
        symbol=symbol,
        side=side,
        order_type=order_type,
        quantity=quantity,
        limit_price=limit_price,
        client_timestamp=client_timestamp,
    )


_TRADE_FIELD_SET = frozenset(TRADE_FIELDS)


def _parse_valid(data: Mapping[str, Any]) -> Trade:
    """The checks of _parse_fields, in the processor's hot path, for a payload that passes
    them: it raises at the first problem instead of collecting them all (each message is
    checked at intake already, so here a problem is the exception)."""
    if not data.keys() <= _TRADE_FIELD_SET:
        raise ValueError("unknown field")
    order_type = _order_type(data["order_type"])
    raw_price = data.get("limit_price")
    if order_type is OrderType.LIMIT:
        limit_price: Decimal | None = _amount(raw_price)
    elif raw_price is None:
        limit_price = None
    else:
        raise ValueError("limit_price on a MARKET order")
    return Trade(
        trade_id=_uuid(data["trade_id"]),
        account_id=_account(data["account_id"]),
        symbol=_symbol(data["symbol"]),
        side=_side(data["side"]),
        order_type=order_type,
        quantity=_amount(data["quantity"]),
        limit_price=limit_price,
        client_timestamp=_timestamp(data["client_timestamp"]),
    )


def _required(
    data: Mapping[str, Any], name: str, errors: list[FieldError], check: Callable[[object], T]
) -> T | None:
    if data.get(name) is None:
        errors.append(FieldError(name, "is required"))
        return None
    return _checked(name, data[name], errors, check)


def _checked(
    name: str, value: object, errors: list[FieldError], check: Callable[[object], T]
) -> T | None:
    try:
        return check(value)
    except ValueError as exc:
        errors.append(FieldError(name, str(exc)))
        return None


def _uuid(value: object) -> str:
    # Only the canonical hyphenated form: uuid.UUID() would also accept braces, URNs and
    # bare hex, giving one order several spellings of its idempotency key.
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise ValueError("must be a UUID string such as 123e4567-e89b-42d3-a456-426614174000")
    return value.lower()  # the pattern admits only the canonical form, in either case


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be a string ({what})")
        if not regex.match(value):
            raise ValueError(f"must be {what} matching {regex.pattern}")
        return value

    return check


def _choice(enum: type[Side] | type[OrderType]) -> Callable[[object], Any]:
    allowed = " or ".join(m.value for m in enum)
    members: dict[object, Any] = {m.value: m for m in enum}  # Enum(value) is slow

    def check(value: object) -> Any:
        member = members.get(value) if isinstance(value, str) else None
        if member is None:
            raise ValueError(f"must be {allowed}")
        return member

    return check


# The canonical form every queue message uses; checked by one regex on the hot path.
PLAIN_AMOUNT_RE = re.compile(rf"^[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,{MAX_SCALE}}})?$")


def _amount(value: object) -> Decimal:
    if isinstance(value, str) and PLAIN_AMOUNT_RE.match(value):
        amount = Decimal(value)
        if amount > 0:
            return amount
    return _amount_slow(value)


def _amount_slow(value: object) -> Decimal:
    # bool is an int subclass: `true` must not become a quantity of 1.
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError("must be a decimal number or a decimal string")
    if isinstance(value, str) and not DECIMAL_TEXT_RE.match(value):
        raise ValueError("must be a plain decimal string such as '10.25'")
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError("must be a decimal number") from exc
    if not amount.is_finite() or amount <= 0:
        raise ValueError("must be greater than 0")
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    if -exponent > MAX_SCALE and amount != amount.quantize(Decimal(1).scaleb(-MAX_SCALE)):
        raise ValueError(f"must have at most {MAX_SCALE} decimal places")
    if amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"must be less than 10^{MAX_INTEGER_DIGITS}")
    return amount


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError("must be an ISO 8601 timestamp such as 2024-05-01T12:00:00Z") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("must include a timezone offset (e.g. Z)")
    return parsed.astimezone(UTC)


_account = _pattern(ACCOUNT_RE, "an account id")
_symbol = _pattern(SYMBOL_RE, "an upper-case symbol")
_side = _choice(Side)
_order_type = _choice(OrderType)
