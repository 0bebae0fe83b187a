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
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

# The one definition of a valid trade. Migration 0004 states the same rules as CHECK
# constraints on `trades` (tests/lambda_src/migrate holds both sides equal): an amount is
# greater than 0, below 10^12 and a whole number of 10^-8; a timestamp lies in
# [2000-01-01, 2100-01-01) UTC; every text field matches its pattern as a whole string.
MAX_SCALE = 8
MAX_INTEGER_DIGITS = 12
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive
# A trade is one flat object (depth 1); deeper nesting is refused before the decoder, whose
# recursion would otherwise end in RecursionError.
MAX_NESTING = 4

# Patterns are matched with fullmatch: `$` also matches before a final newline, so
# "AAPL\n" would pass a `^...$` search. PostgreSQL's `$` ends the string, so the
# migration's `^...$` CHECKs mean the same as these fullmatch patterns.
UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
ACCOUNT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
SYMBOL_RE = re.compile(r"[A-Z][A-Z0-9.-]{0,15}")
SESSION_TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/=-]{16,512}")
DECIMAL_TEXT_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Seconds always, at most microseconds (PostgreSQL's resolution); the offset is checked apart
# so that a missing one gets its own message.
TIMESTAMP_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?"
)

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


class DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Python keeps the last of duplicate keys, other parsers the first: a body that two
    # readers understand differently is refused rather than guessed at.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(f"duplicate key {_shown(key)}")
            seen.add(key)
    return obj


# One decoder for all calls: json.loads(..., parse_float=...) builds a new one each time.
# Integers become Decimal too: int() refuses more than 4300 digits with its own error.
_DECODER = json.JSONDecoder(
    parse_float=Decimal,
    parse_int=Decimal,
    parse_constant=_reject_constant,
    object_pairs_hook=_unique_keys,
)
# Strings (which may hold brackets) and the brackets outside them.
_JSON_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class NestingError(ValueError):
    pass


def check_nesting(text: str, limit: int = MAX_NESTING) -> None:
    """Refuse JSON nested deeper than `limit`, without recursion (the decoder recurses)."""
    if text.count("[") + text.count("{") <= limit:
        return  # cannot nest deeper than its brackets: the common case costs two scans
    depth = 0
    for token in _JSON_TOKEN_RE.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > limit:
                raise NestingError(f"nested deeper than {limit} levels")
        elif char in "]}":
            depth -= 1


def loads(text: str | bytes) -> Any:
    """json.loads with exact decimals, without NaN/Infinity (which JSON does not have),
    duplicate keys or deep nesting."""
    decoded = text.decode("utf-8") if isinstance(text, bytes) else text
    check_nesting(decoded)
    return _DECODER.decode(decoded)


def parse_json_body(raw: bytes) -> Any:
    """The body as JSON whatever its declared content type (the API's request model checks
    only application/json)."""
    try:
        return loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise TradeValidationError([FieldError("body", "must be UTF-8 encoded")]) from exc
    except ValueError as exc:  # JSONDecodeError, constants, duplicate keys, nesting
        raise TradeValidationError([FieldError("body", f"malformed JSON: {exc}")]) from exc


def _shown(name: object) -> str:
    """A client-chosen name as an error may quote it: bounded and printable."""
    text = name if isinstance(name, str) else repr(name)
    return ascii(text[:64])[1:-1] or '""'  # an empty name is still named


def parse_trade_request(payload: object) -> TradeRequest:
    """An API order: the trade plus the session token that authorises it."""
    data = _as_object(payload)
    errors = _unexpected_fields(data, REQUEST_FIELDS)
    token = data.get("session_token")
    if token is None:
        errors.append(FieldError("session_token", "is required"))
    elif not isinstance(token, str) or not SESSION_TOKEN_RE.fullmatch(token):
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
    return [
        FieldError(_shown(name), "is not a known field") for name in data if name not in allowed
    ]


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
    if not isinstance(value, str) or not UUID_RE.fullmatch(value):
        raise ValueError("must be a UUID string such as 123e4567-e89b-42d3-a456-426614174000")
    return value.lower()  # the pattern admits only the canonical form, in either case


def _pattern(regex: re.Pattern[str], what: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError(f"must be a string ({what})")
        if not regex.fullmatch(value):
            raise ValueError(f"must be {what} matching ^{regex.pattern}$")
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
PLAIN_AMOUNT_RE = re.compile(rf"[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,{MAX_SCALE}}})?")


def _amount(value: object) -> Decimal:
    if isinstance(value, str) and PLAIN_AMOUNT_RE.fullmatch(value):
        amount = Decimal(value)
        if amount > 0:
            return amount
    return _amount_slow(value)


def _amount_slow(value: object) -> Decimal:
    # bool is an int subclass: `true` must not become a quantity of 1.
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise ValueError("must be a decimal number or a decimal string")
    if isinstance(value, str):
        if not DECIMAL_TEXT_RE.fullmatch(value):
            raise ValueError("must be a plain decimal string such as '10.25'")
        value = Decimal(value)
    elif isinstance(value, int):
        value = Decimal(value)
    return _bounded_amount(value)


def _bounded_amount(value: Decimal) -> Decimal:
    """The rules on the number's digits and exponent alone: no arithmetic, which Decimal's
    context would refuse (InvalidOperation) or round for numbers with many digits."""
    if not value.is_finite():
        raise ValueError("must be a finite decimal number")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    significant = len(digits)
    while significant and digits[significant - 1] == 0:  # trailing zeros: no precision
        significant -= 1
        exponent += 1
    leading = 0
    while leading < significant and digits[leading] == 0:
        leading += 1
    if sign or leading == significant:
        raise ValueError("must be greater than 0")
    if -exponent > MAX_SCALE:
        raise ValueError(f"must have at most {MAX_SCALE} decimal places")
    if significant - leading + exponent > MAX_INTEGER_DIGITS:
        raise ValueError(f"must be less than 10^{MAX_INTEGER_DIGITS}")
    # The same number with no superfluous zeros, built without a context: exact.
    return Decimal((0, digits[leading:significant], exponent))


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 timestamp string")
    match = TIMESTAMP_RE.fullmatch(value)
    if match is None:
        raise ValueError("must be an ISO 8601 timestamp such as 2024-05-01T12:00:00Z")
    zone = match.group(2)
    if zone is None:
        raise ValueError("must include a timezone offset (e.g. Z)")
    if zone == "Z" and "2000" <= value[:4] < "2100":
        # The queue's canonical form: already UTC and inside the bounds; only the calendar
        # (a 30 February) is left to check, which fromisoformat does.
        try:
            return datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"must be a valid date and time: {exc}") from exc
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"must be a valid date and time: {exc}") from exc
    # The local year first: converting year 1 or 9999 to UTC can overflow.
    if not EARLIEST.year - 1 <= parsed.year <= LATEST.year or parsed.utcoffset() is None:
        raise ValueError(f"must lie from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} UTC")
    utc = parsed.astimezone(UTC)
    if not EARLIEST <= utc < LATEST:
        raise ValueError(f"must lie from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} UTC")
    return utc


_account = _pattern(ACCOUNT_RE, "an account id")
_symbol = _pattern(SYMBOL_RE, "an upper-case symbol")
_side = _choice(Side)
_order_type = _choice(OrderType)
