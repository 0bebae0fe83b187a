"""One definition of a valid trade: intake, the processor and the database schema agree.

The property ranges over values: amounts (any sign, digits and exponent, as a JSON string
or a JSON number), timestamps of any year and offset, text fields near and on their
patterns, side and order type, and whether a limit price is there. Spelling rules that only
the API has (which ISO 8601 forms, which UUID spellings, JSON types, unknown fields) are the
case tables of tests/lambda_src/intake; the database stores typed values, not spellings.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pg8000.native
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from intake_logic import handle_order
from processor_logic import Outcome, Record, TradeStore, audit_body, audit_key, process_batch
from trading_shared.audit import AuditObject
from trading_shared.aws import Session
from trading_shared.db import ConnectionCache
from trading_shared.journal import JournalResult, Recorded
from trading_shared.trade import ACCOUNT_RE, SYMBOL_RE, Trade

from tests.conftest import Database
from tests.lambda_src.helpers import ACCOUNT, SESSION_TOKEN

REGION = "us-east-1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _amounts() -> st.SearchStrategy[Decimal]:
    def build(negative: bool, digits: int, exponent: int) -> Decimal:
        return Decimal((int(negative), tuple(int(d) for d in str(digits)), exponent))

    return st.builds(
        build,
        st.booleans(),
        st.integers(0, 10**22) | st.sampled_from([0, 1, 10**11, 10**12, 999999999999]),
        st.integers(-14, 14),
    )


# An amount as sent: a plain decimal string or a JSON number spelled as Python writes it.
AMOUNT = st.tuples(_amounts(), st.booleans())
OFFSETS = st.sampled_from([timedelta(0), timedelta(hours=1), timedelta(hours=-1),
                           timedelta(hours=14), timedelta(hours=-12, minutes=-30)])  # fmt: skip
TIMESTAMP = st.builds(
    lambda when, offset, spec: when.replace(tzinfo=timezone(offset)).isoformat(timespec=spec),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
    | st.datetimes(min_value=datetime(1999, 12, 31), max_value=datetime(2000, 1, 1, 1))
    | st.datetimes(min_value=datetime(2099, 12, 31), max_value=datetime(2100, 1, 1, 23))
    | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
    OFFSETS,
    st.sampled_from(["seconds", "milliseconds", "microseconds"]),
)
NEAR_TEXT = st.text(alphabet="ABZaz09.-_ \n\u00c9", max_size=70)


def _text(pattern: Any) -> st.SearchStrategy[str]:
    valid = st.from_regex(pattern, fullmatch=True)
    return valid | valid.map(lambda v: v + "\n") | NEAR_TEXT


TRADE_ID = st.sampled_from(["plain", "upper", "newline", "short", "space"])
CHOICE = st.sampled_from(["BUY", "SELL", "MARKET", "LIMIT", "buy", "HOLD", ""])
MISSING = object()


VALID_AMOUNT = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("999999999999.99999999"),
                          places=8, allow_nan=False, allow_infinity=False)  # fmt: skip
VALID_TIMESTAMP = st.builds(
    lambda when, offset: (when.replace(tzinfo=UTC) - offset).astimezone(timezone(offset)).isoformat(),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)), OFFSETS,
)  # fmt: skip


@st.composite
def candidates(draw: st.DrawFn) -> dict[str, Any]:
    """A trade or a near-trade: each field valid, or (one time in five) just beside the rule."""

    def pick(valid: st.SearchStrategy[Any], near: st.SearchStrategy[Any]) -> Any:
        return draw(near if draw(st.integers(0, 4)) == 0 else valid)

    order_type = pick(st.sampled_from(["LIMIT", "MARKET"]), CHOICE)
    has_price = order_type == "LIMIT"
    if draw(st.integers(0, 4)) == 0:
        has_price = not has_price
    return {
        "trade_id": pick(st.just("plain") | st.just("upper"), TRADE_ID),
        "account_id": pick(st.from_regex(ACCOUNT_RE, fullmatch=True), _text(ACCOUNT_RE)),
        "symbol": pick(st.from_regex(SYMBOL_RE, fullmatch=True), _text(SYMBOL_RE)),
        "side": pick(st.sampled_from(["BUY", "SELL"]), CHOICE),
        "order_type": order_type,
        "quantity": pick(st.tuples(VALID_AMOUNT, st.booleans()), AMOUNT),
        "limit_price": pick(st.tuples(VALID_AMOUNT, st.booleans()), AMOUNT)
        if has_price
        else MISSING,
        "client_timestamp": pick(VALID_TIMESTAMP, TIMESTAMP),
    }


def _spell_trade_id(kind: str) -> str:
    plain = str(uuid.uuid4())
    return {"plain": plain, "upper": plain.upper(), "newline": plain + "\n",
            "short": plain[:-1], "space": " " + plain}[kind]  # fmt: skip


def _body(fields: dict[str, Any]) -> str:
    """The JSON text, amounts spelled as the candidate says (numbers bare, strings quoted)."""
    data: dict[str, Any] = {}
    numbers: dict[str, str] = {}
    for name, value in fields.items():
        if value is MISSING:
            continue
        if isinstance(value, tuple):
            amount, as_number = value
            if as_number:
                numbers[name] = str(amount)
                data[name] = f"@{name}@"
            else:
                data[name] = format(amount, "f")
        else:
            data[name] = value
    text = json.dumps(data)
    for name, number in numbers.items():
        text = text.replace(f'"@{name}@"', number)
    return text


def _sql_value(value: Any) -> str | None:
    if value is MISSING:
        return None
    if isinstance(value, tuple):
        amount, as_number = value
        return str(amount) if as_number else format(amount, "f")
    return str(value)


INSERT = (
    "INSERT INTO trades (trade_id, account_id, symbol, side, order_type, quantity, limit_price,"
    " client_timestamp, processed_region) VALUES (CAST(:trade_id AS uuid), :account_id,"
    " :symbol, :side, :order_type, CAST(:quantity AS numeric), CAST(:limit_price AS numeric),"
    " CAST(:client_timestamp AS timestamptz), 'test')"
)


def _database_accepts(conn: pg8000.native.Connection, fields: dict[str, Any]) -> bool:
    """Whether the schema takes the candidate's values as a row (rolled back either way)."""
    conn.run("START TRANSACTION")
    try:
        conn.run(INSERT, **{name: _sql_value(value) for name, value in fields.items()})
    except pg8000.native.DatabaseError:
        return False
    finally:
        conn.run("ROLLBACK")
    return True


@pytest.fixture
def legs(database: Database) -> Iterator[tuple[pg8000.native.Connection, TradeStore]]:
    admin = database.server.connect(database.name)
    admin.run("SET TIME ZONE 'UTC'")

    def connect() -> pg8000.native.Connection:
        return pg8000.native.Connection(
            user=database.app_user, password=database.app_password,
            host=database.server.host, port=database.server.port, database=database.name,
        )  # fmt: skip

    store = TradeStore(ConnectionCache(connect), REGION)
    yield admin, store
    store.connections.discard()
    admin.close()


def _process(store: TradeStore, body: str) -> Outcome:
    batch_id = str(uuid.uuid4())
    key = audit_key("trades/", REGION, NOW, batch_id)

    def audit(results: Any) -> AuditObject:
        return AuditObject(key, audit_body(results, region=REGION, batch_id=batch_id,
                                           processed_at=NOW))  # fmt: skip

    batch = process_batch([Record("m-1", body, 1)], store, audit)
    assert batch.journaled, batch.store_error
    [result] = batch.results
    return result.outcome


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(fields=candidates())
@example(fields={"trade_id": "newline", "account_id": ACCOUNT, "symbol": "AAPL", "side": "BUY",
                 "order_type": "MARKET", "quantity": (Decimal(1), False), "limit_price": MISSING,
                 "client_timestamp": "2024-05-01T12:00:00+00:00"})  # fmt: skip
@example(fields={"trade_id": "plain", "account_id": ACCOUNT, "symbol": "AAPL\n", "side": "BUY",
                 "order_type": "MARKET", "quantity": (Decimal(1), False), "limit_price": MISSING,
                 "client_timestamp": "2024-05-01T12:00:00+00:00"})  # fmt: skip
@example(fields={"trade_id": "plain", "account_id": ACCOUNT, "symbol": "AAPL", "side": "BUY",
                 "order_type": "LIMIT",
                 "quantity": (Decimal("1111111111111111111111111.1111111111"), True),
                 "limit_price": (Decimal("1111111111111111111111111.1111111111"), False),
                 "client_timestamp": "0001-01-01T00:00:00+01:00"})  # fmt: skip
@example(fields={"trade_id": "plain", "account_id": ACCOUNT, "symbol": "AAPL", "side": "BUY",
                 "order_type": "MARKET", "quantity": (Decimal("1.000000000"), False),
                 "limit_price": MISSING, "client_timestamp": "9999-12-31T23:59:59-01:00"})  # fmt: skip
def test_intake_accepts_exactly_what_the_processor_stores_and_the_schema_takes(
    legs: tuple[pg8000.native.Connection, TradeStore], fields: dict[str, Any]
) -> None:
    admin, store = legs
    fields = {**fields, "trade_id": _spell_trade_id(fields["trade_id"])}
    queued: list[Trade] = []

    def enqueue(trade: Trade) -> str:
        queued.append(trade)
        return "message-id"

    # WHEN the candidate is posted to intake (with a live session of its account)...
    raw = _body({**fields, "session_token": SESSION_TOKEN}).encode()
    answer = handle_order(
        raw, max_body_bytes=1 << 20, now=NOW.timestamp(), enqueue=enqueue,
        lookup_session=lambda _token: Session(int(NOW.timestamp()) + 60, fields["account_id"]),
        # every candidate is a new trade to the journal (its own tests cover retries)
        journal=lambda _trade: JournalResult(Recorded.NEW),
    )  # fmt: skip
    # ...its values are inserted into the schema directly...
    schema_takes = _database_accepts(admin, fields)
    # ...and the processor gets what intake queued, or else the body itself (as a
    # producer that skipped intake would send it)
    body = queued[0].to_json() if queued else _body(fields)
    outcome = _process(store, body)

    # THEN 202 exactly when the processor stores it and the schema takes it; else a 4xx
    assert answer.status in (202, 400), answer
    accepted = answer.status == 202
    event("accepted" if accepted else "refused")
    assert (outcome is Outcome.STORED) == accepted, (answer.body, outcome)
    assert schema_takes == accepted, answer.body
