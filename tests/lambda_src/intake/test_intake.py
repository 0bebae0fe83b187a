"""POST /trades through the real handler, with DynamoDB and SQS from moto."""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import intake_handler
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from intake_logic import handle_order
from trading_shared.aws import Session
from trading_shared.journal import JournalResult, Recorded
from trading_shared.trade import REQUEST_FIELDS

from tests.lambda_src.helpers import ACCOUNT, SESSION_TOKEN, context, post_event, trade
from tests.support.journal import create_journal_table

TABLE = "user-sessions-test"
JOURNAL = "trade-journal-test"
MAX_BODY = 16 * 1024


@dataclass
class Intake:
    sqs: Any
    dynamodb: Any
    queue_url: str

    def add_session(self, token: str, expires_at: float, account_id: str | None = None) -> None:
        item: dict[str, Any] = {"expires_at": {"N": str(int(expires_at))}}
        if account_id is not None:
            item["account_id"] = {"S": account_id}
        self.put_session(token, item)

    def put_session(self, token: str, attributes: dict[str, Any]) -> None:
        item = {"session_token": {"S": token}, **attributes}
        self.dynamodb.put_item(TableName=TABLE, Item=item)

    def post(self, body: Any, *, raw: bool = False, base64_encoded: bool = False) -> dict[str, Any]:
        text = body if raw else json.dumps(body)
        response: dict[str, Any] = intake_handler.handler(
            post_event(text, base64_encoded=base64_encoded), context()
        )
        response["json"] = json.loads(response["body"])
        return response

    def queued(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        return [json.loads(m["Body"], parse_float=Decimal) for m in messages]


@pytest.fixture
def intake(aws: None, monkeypatch: pytest.MonkeyPatch) -> Intake:
    sqs = boto3.client("sqs")
    dynamodb = boto3.client("dynamodb")
    queue_url = sqs.create_queue(QueueName="trades-test")["QueueUrl"]
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "session_token", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "session_token", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    monkeypatch.setenv("TRADE_QUEUE_URL", queue_url)
    monkeypatch.setenv("SESSIONS_TABLE_NAME", TABLE)
    create_journal_table(dynamodb, JOURNAL)
    monkeypatch.setenv("JOURNAL_TABLE_NAME", JOURNAL)
    monkeypatch.setattr(intake_handler, "_runtime", None)
    rig = Intake(sqs, dynamodb, queue_url)
    rig.add_session(SESSION_TOKEN, time.time() + 3600, ACCOUNT)
    return rig


def test_valid_order_is_queued_in_canonical_form_and_accepted(intake: Intake) -> None:
    # GIVEN a valid LIMIT order with a live session, amounts as JSON numbers
    order = trade()
    text = json.dumps(order).replace('"10.5"', "10.50").replace('"187.12345678"', "187.12345678")

    # WHEN it is posted
    response = intake.post(text, raw=True)

    # THEN 202 names the trade and the queue holds exactly the canonical trade: decimals
    # unrounded, no session token
    assert response["statusCode"] == 202
    assert response["json"] == {"status": "accepted", "trade_id": order["trade_id"]}
    [queued] = intake.queued()
    assert queued == {
        "trade_id": order["trade_id"],
        "account_id": ACCOUNT,
        "symbol": "AAPL",
        "side": "BUY",
        "order_type": "LIMIT",
        "quantity": "10.5",
        "limit_price": "187.12345678",
        "client_timestamp": "2024-05-01T12:00:00.123456Z",
    }


def test_market_order_without_price_and_base64_body_is_accepted(intake: Intake) -> None:
    # GIVEN a MARKET order sent base64-encoded (binary media types do that)
    order = trade(order_type="MARKET", limit_price=..., side="SELL", quantity=3)
    encoded = base64.b64encode(json.dumps(order).encode()).decode()

    # WHEN it is posted
    response = intake.post(encoded, raw=True, base64_encoded=True)

    # THEN it is accepted and queued without a limit price
    assert response["statusCode"] == 202
    [queued] = intake.queued()
    assert "limit_price" not in queued
    assert queued["quantity"] == "3"


OVERSIZED = json.dumps(trade(symbol="A" * (MAX_BODY + 1)))

# (case id, raw body, fields the 400 must name)
INVALID_BODIES: list[tuple[str, str | None, set[str]]] = [
    ("no body", None, {"body"}),
    ("empty body", "", {"body"}),
    ("malformed JSON", '{"trade_id": ', {"body"}),
    ("JSON array", "[]", {"body"}),
    ("JSON string", '"order"', {"body"}),
    ("NaN literal", json.dumps(trade()).replace('"10.5"', "NaN"), {"body"}),
    ("Infinity literal", json.dumps(trade()).replace('"10.5"', "Infinity"), {"body"}),
    ("oversized body", OVERSIZED, {"body"}),
    # Issue 12, defect 2: nesting that made the decoder raise RecursionError (a 502).
    ("deeply nested array", "[" * 5000, {"body"}),
    ("deeply nested object", '{"a":' * 5000, {"body"}),
    ("nested inside a string-looking body", '{"x": [[[[["]"]]]]]}', {"body"}),
    # Issue 12, defect 5: a duplicate key, which another parser would read differently.
    (
        "duplicate quantity",
        json.dumps(trade())[:-1] + ', "quantity": "99999"}',
        {"body"},
    ),
    ("duplicate nested key", json.dumps(trade())[:-1] + ', "x": {"a": 1, "a": 2}}', {"body"}),
]


def _field_case(**overrides: Any) -> str:
    return json.dumps(trade(**overrides))


def _number_case(name: str, number: str) -> str:
    """The field as a bare JSON number, spelled exactly as given."""
    return json.dumps(trade(**{name: "@"})).replace('"@"', number)


HUGE = "1111111111111111111111111.1111111111"


INVALID_FIELDS: list[tuple[str, str, set[str]]] = [
    *[
        (f"missing {f}", _field_case(**{f: ...}), {f})
        for f in (
            "trade_id",
            "account_id",
            "symbol",
            "side",
            "order_type",
            "quantity",
            "client_timestamp",
            "session_token",
        )
    ],
    ("null quantity", _field_case(quantity=None), {"quantity"}),
    ("LIMIT without limit_price", _field_case(limit_price=...), {"limit_price"}),
    ("MARKET with limit_price", _field_case(order_type="MARKET"), {"limit_price"}),
    ("unknown field", _field_case(limitPrice="1"), {"limitPrice"}),
    ("trade_id not a UUID", _field_case(trade_id="order-1"), {"trade_id"}),
    (
        "trade_id in braces",
        _field_case(trade_id="{123e4567-e89b-42d3-a456-426614174000}"),
        {"trade_id"},
    ),
    ("trade_id a number", _field_case(trade_id=42), {"trade_id"}),
    ("account_id with spaces", _field_case(account_id="acct 42"), {"account_id"}),
    ("account_id too long", _field_case(account_id="a" * 65), {"account_id"}),
    ("account_id a number", _field_case(account_id=42), {"account_id"}),
    ("symbol lower case", _field_case(symbol="aapl"), {"symbol"}),
    ("symbol too long", _field_case(symbol="A" * 17), {"symbol"}),
    ("symbol a list", _field_case(symbol=["AAPL"]), {"symbol"}),
    ("side unknown", _field_case(side="HOLD"), {"side"}),
    ("side lower case", _field_case(side="buy"), {"side"}),
    ("side a boolean", _field_case(side=True), {"side"}),
    ("order_type unknown", _field_case(order_type="STOP"), {"order_type"}),
    ("quantity zero", _field_case(quantity=0), {"quantity"}),
    ("quantity negative", _field_case(quantity="-1"), {"quantity"}),
    ("quantity a boolean", _field_case(quantity=True), {"quantity"}),
    ("quantity exponent string", _field_case(quantity="1e3"), {"quantity"}),
    ("quantity not a number", _field_case(quantity="ten"), {"quantity"}),
    ("quantity an object", _field_case(quantity={"value": 1}), {"quantity"}),
    ("quantity 9 decimal places", _field_case(quantity="0.000000001"), {"quantity"}),
    ("quantity too large", _field_case(quantity="1000000000000"), {"quantity"}),
    ("limit_price zero", _field_case(limit_price="0"), {"limit_price"}),
    ("limit_price negative", _field_case(limit_price=-5), {"limit_price"}),
    ("limit_price 9 decimal places", _field_case(limit_price="1.123456789"), {"limit_price"}),
    (
        "client_timestamp without zone",
        _field_case(client_timestamp="2024-05-01T12:00:00"),
        {"client_timestamp"},
    ),
    (
        "client_timestamp not a date",
        _field_case(client_timestamp="yesterday"),
        {"client_timestamp"},
    ),
    ("client_timestamp a number", _field_case(client_timestamp=1714564800), {"client_timestamp"}),
    ("session_token too short", _field_case(session_token="abc"), {"session_token"}),
    # Issue 12, defect 1: `$` also matched before a final newline.
    ("trade_id with a final newline", _field_case(trade_id=f"{uuid.uuid4()}\n"), {"trade_id"}),
    ("symbol with a final newline", _field_case(symbol="AAPL\n"), {"symbol"}),
    ("account_id with a final newline", _field_case(account_id="acct\n"), {"account_id"}),
    (
        "session_token with a final newline",
        _field_case(session_token=SESSION_TOKEN + "\n"),
        {"session_token"},
    ),
    ("symbol with a non-ASCII letter", _field_case(symbol="AAPL\u00c9"), {"symbol"}),
    # Issue 12, defect 2: digits past Decimal's precision, checked before any arithmetic.
    ("quantity of 35 digits as a string", _field_case(quantity=HUGE), {"quantity"}),
    ("limit_price of 35 digits as a string", _field_case(limit_price=HUGE), {"limit_price"}),
    ("quantity of 35 digits as a number", _number_case("quantity", HUGE), {"quantity"}),
    ("limit_price of 35 digits as a number", _number_case("limit_price", HUGE), {"limit_price"}),
    ("quantity of 5000 digits", _number_case("quantity", "1" * 5000), {"quantity"}),
    ("quantity with a huge exponent", _number_case("quantity", "1e999999999"), {"quantity"}),
    ("quantity with a tiny exponent", _number_case("quantity", "1e-999999999"), {"quantity"}),
    # Issue 12, defect 2: timestamps whose conversion to UTC overflowed.
    (
        "client_timestamp year 1 east of UTC",
        _field_case(client_timestamp="0001-01-01T00:00:00+01:00"),
        {"client_timestamp"},
    ),
    (
        "client_timestamp year 9999 west of UTC",
        _field_case(client_timestamp="9999-12-31T23:59:59-01:00"),
        {"client_timestamp"},
    ),
    (
        "client_timestamp before 2000",
        _field_case(client_timestamp="1999-12-31T23:59:59Z"),
        {"client_timestamp"},
    ),
    (
        "client_timestamp from 2100",
        _field_case(client_timestamp="2100-01-01T00:00:00Z"),
        {"client_timestamp"},
    ),
    (
        "client_timestamp with a final newline",
        _field_case(client_timestamp="2024-05-01T12:00:00Z\n"),
        {"client_timestamp"},
    ),
    (
        "client_timestamp in nanoseconds",
        _field_case(client_timestamp="2024-05-01T12:00:00.123456789Z"),
        {"client_timestamp"},
    ),
    (
        "client_timestamp offset of a day",
        _field_case(client_timestamp="2024-05-01T12:00:00+24:00"),
        {"client_timestamp"},
    ),
    ("session_token a number", _field_case(session_token=12345678901234567890), {"session_token"}),
    (
        "several at once",
        _field_case(side="HOLD", quantity="0", symbol=..., extra=1),
        {"side", "quantity", "symbol", "extra"},
    ),
]


@pytest.mark.parametrize(
    ("body", "fields"),
    [pytest.param(b, f, id=i) for i, b, f in INVALID_BODIES + INVALID_FIELDS],
)
def test_invalid_order_is_refused_naming_each_bad_field(
    intake: Intake, body: str | None, fields: set[str]
) -> None:
    # GIVEN an order that is malformed, mistyped, incomplete or oversized
    # WHEN it is posted
    response = intake.post(body, raw=True)

    # THEN 400 names exactly the bad fields, and nothing reaches the queue
    assert response["statusCode"] == 400, response["json"]
    assert response["json"]["error"] == "invalid_request"
    assert {e["field"] for e in response["json"]["errors"]} == fields
    assert all(e["message"] for e in response["json"]["errors"])
    assert intake.queued() == []


def test_undecodable_base64_body_is_refused(intake: Intake) -> None:
    # GIVEN a body flagged base64 that is not base64
    # WHEN it is posted
    response = intake.post("not base64!", raw=True, base64_encoded=True)

    # THEN 400 names the body and nothing is queued
    assert response["statusCode"] == 400
    assert [e["field"] for e in response["json"]["errors"]] == ["body"]
    assert intake.queued() == []


def test_body_at_the_size_limit_is_still_read(intake: Intake) -> None:
    # GIVEN a valid order padded with whitespace to exactly the limit
    text = json.dumps(trade())
    text += " " * (MAX_BODY - len(text))

    # WHEN it is posted
    response = intake.post(text, raw=True)

    # THEN it is accepted: only bodies over the limit are refused
    assert response["statusCode"] == 202


@pytest.mark.parametrize(
    ("token", "expires_in", "status"),
    [
        pytest.param("sess-unknown-0000000000", None, 401, id="unknown session"),
        pytest.param("sess-expired-0000000000", -1, 401, id="expired session"),
        pytest.param("sess-expiring-now-00000", 0, 401, id="expiring this second"),
    ],
)
def test_missing_or_expired_session_is_unauthorised(
    intake: Intake, token: str, expires_in: int | None, status: int
) -> None:
    # GIVEN a session that does not exist or has expired (TTL deletion is lazy)
    if expires_in is not None:
        intake.add_session(token, time.time() + expires_in, ACCOUNT)

    # WHEN an otherwise valid order uses it
    response = intake.post(trade(session_token=token))

    # THEN 401 and nothing is queued
    assert response["statusCode"] == status
    assert response["json"]["error"] == "unauthorized"
    assert intake.queued() == []


def test_session_of_another_account_is_forbidden(intake: Intake) -> None:
    # GIVEN a live session that belongs to a different account
    intake.add_session("sess-other-account-000", time.time() + 60, "acct-other")

    # WHEN it is used to trade for ACCOUNT
    response = intake.post(trade(session_token="sess-other-account-000"))

    # THEN 403 and nothing is queued
    assert response["statusCode"] == 403
    assert intake.queued() == []


VALID_EXPIRY = {"N": str(int(time.time()) + 3600)}
VALID_ACCOUNT = {"S": ACCOUNT}

# Issue 12, defect 4: each attribute of a session item missing or malformed. Every one must
# refuse (401): a session that does not say whose it is authorises nothing.
MALFORMED_SESSIONS: dict[str, dict[str, Any]] = {
    "account_id missing": {"expires_at": VALID_EXPIRY},
    "account_id a number": {"expires_at": VALID_EXPIRY, "account_id": {"N": "42"}},
    "account_id a list": {"expires_at": VALID_EXPIRY, "account_id": {"L": [{"S": ACCOUNT}]}},
    "account_id a string set": {"expires_at": VALID_EXPIRY, "account_id": {"SS": [ACCOUNT]}},
    "account_id null": {"expires_at": VALID_EXPIRY, "account_id": {"NULL": True}},
    "account_id empty": {"expires_at": VALID_EXPIRY, "account_id": {"S": ""}},
    "account_id a wildcard": {"expires_at": VALID_EXPIRY, "account_id": {"S": "*"}},
    "account_id with a final newline": {
        "expires_at": VALID_EXPIRY,
        "account_id": {"S": ACCOUNT + "\n"},
    },
    "expires_at missing": {"account_id": VALID_ACCOUNT},
    "expires_at a string": {"account_id": VALID_ACCOUNT, "expires_at": {"S": "9999999999"}},
    "expires_at negative": {"account_id": VALID_ACCOUNT, "expires_at": {"N": "-1"}},
    "expires_at past year 2286": {"account_id": VALID_ACCOUNT, "expires_at": {"N": "1" + "0" * 12}},
    "expires_at a boolean": {"account_id": VALID_ACCOUNT, "expires_at": {"BOOL": True}},
    "nothing but the key": {},
}


@pytest.mark.parametrize("attributes", MALFORMED_SESSIONS.values(), ids=MALFORMED_SESSIONS.keys())
def test_malformed_session_authorises_nothing(intake: Intake, attributes: dict[str, Any]) -> None:
    # GIVEN a session item with an attribute missing or malformed
    token = "sess-malformed-00000000"
    intake.put_session(token, attributes)

    # WHEN an otherwise valid order uses it
    response = intake.post(trade(session_token=token))

    # THEN 401, nothing is queued
    assert response["statusCode"] == 401, response["json"]
    assert response["json"]["error"] == "unauthorized"
    assert intake.queued() == []


def test_well_formed_session_with_a_fractional_expiry_is_honoured(intake: Intake) -> None:
    # GIVEN a session whose expiry DynamoDB stores with a fraction
    token = "sess-fraction-000000000"
    intake.put_session(
        token, {"account_id": VALID_ACCOUNT, "expires_at": {"N": f"{time.time() + 60:.3f}"}}
    )

    # WHEN it is used for its own account, THEN the order is accepted
    assert intake.post(trade(session_token=token))["statusCode"] == 202


def test_unreachable_queue_answers_503_with_the_trade_id(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the queue does not exist (as during a regional SQS outage)
    intake.sqs.delete_queue(QueueUrl=intake.queue_url)
    order = trade()

    # WHEN an order is posted
    response = intake.post(order)

    # THEN 503 tells the client to retry the same trade_id
    assert response["statusCode"] == 503
    assert response["json"]["trade_id"] == order["trade_id"]


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch, aws: None) -> None:
    # GIVEN a function deployed without its queue and table variables
    monkeypatch.delenv("TRADE_QUEUE_URL", raising=False)
    monkeypatch.delenv("SESSIONS_TABLE_NAME", raising=False)
    monkeypatch.setattr(intake_handler, "_runtime", None)

    # WHEN it is invoked
    # THEN it fails naming both variables
    with pytest.raises(RuntimeError, match="TRADE_QUEUE_URL is required; SESSIONS_TABLE_NAME"):
        intake_handler.handler(post_event(json.dumps(trade())), context())


def _journal_item(intake: Intake, trade_id: str) -> dict[str, Any]:
    item: dict[str, Any] = intake.dynamodb.get_item(
        TableName=JOURNAL, Key={"trade_id": {"S": trade_id}}, ConsistentRead=True
    ).get("Item", {})
    return item


def test_accepted_trade_is_journaled_before_it_is_queued(intake: Intake) -> None:
    # GIVEN a valid order
    order = trade()
    before = time.time()

    # WHEN it is posted
    response = intake.post(order)

    # THEN it is accepted, journaled with exactly the queued body, pending reconciliation
    # in its minute's shard of the index, and set to expire after the configured days
    assert response["statusCode"] == 202
    [queued] = intake.queued()
    item = _journal_item(intake, order["trade_id"])
    assert json.loads(item["trade"]["S"], parse_float=Decimal) == queued
    accepted_ms = int(item["accepted_at"]["N"])
    assert before * 1000 - 1 <= accepted_ms <= time.time() * 1000 + 1
    minute = time.strftime("%Y%m%d%H%M", time.gmtime(accepted_ms // 1000))
    assert item["pending"]["S"] == f"{minute}#{int(order['trade_id'][-4:], 16) % 4}"
    assert int(item["expires_at"]["N"]) == accepted_ms // 1000 + 7 * 86_400
    assert item["region"]["S"] == "us-east-1"


@pytest.mark.parametrize(
    "respelled",
    [
        pytest.param(lambda o: o, id="same JSON"),
        pytest.param(lambda o: {**o, "quantity": "10.50"}, id="trailing zero"),
        pytest.param(
            lambda o: {**o, "client_timestamp": "2024-05-01T14:00:00.123456+02:00"},
            id="same instant, other offset",
        ),
    ],
)
def test_exact_retry_is_accepted_without_a_second_message(intake: Intake, respelled: Any) -> None:
    # GIVEN an order that was accepted
    order = trade()
    assert intake.post(order)["statusCode"] == 202

    # WHEN the same trade is posted again (the client did not see the answer)
    response = intake.post(respelled(order))

    # THEN the answer is the same 202 and the queue holds the trade once
    assert response["statusCode"] == 202
    assert response["json"] == {"status": "accepted", "trade_id": order["trade_id"]}
    assert [m["trade_id"] for m in intake.queued()] == [order["trade_id"]]


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"quantity": "11"}, ["quantity"]),
        ({"side": "SELL", "limit_price": "187.1"}, ["limit_price", "side"]),
        ({"order_type": "MARKET", "limit_price": ...}, ["limit_price", "order_type"]),
    ],
)
def test_trade_id_reused_for_a_different_trade_is_refused_naming_the_conflict(
    intake: Intake, change: dict[str, Any], fields: list[str]
) -> None:
    # GIVEN an accepted order
    order = trade()
    assert intake.post(order)["statusCode"] == 202
    intake.queued()

    # WHEN a different trade comes with the same trade_id
    other = {k: v for k, v in {**order, **change}.items() if v is not ...}
    response = intake.post(other)

    # THEN 409 names the trade_id and the differing fields; nothing more is queued and
    # the journal keeps the first trade
    assert response["statusCode"] == 409
    assert response["json"]["error"] == "conflict"
    assert response["json"]["trade_id"] == order["trade_id"]
    assert response["json"]["conflicting_fields"] == fields
    assert order["trade_id"] in response["json"]["message"]
    assert intake.queued() == []
    stored = json.loads(_journal_item(intake, order["trade_id"])["trade"]["S"])
    assert stored["quantity"] == "10.5"


def test_unreachable_journal_answers_503_and_queues_nothing(intake: Intake) -> None:
    # GIVEN the journal table cannot be written (here: it does not exist)
    intake.dynamodb.delete_table(TableName=JOURNAL)

    # WHEN an order is posted
    response = intake.post(trade())

    # THEN the client is told to retry, and nothing was queued that is not journaled
    assert response["statusCode"] == 503
    assert intake.queued() == []


def test_retry_after_a_failed_enqueue_is_accepted_and_left_to_the_reconciler(
    intake: Intake,
) -> None:
    # GIVEN an order journaled whose SendMessage failed (503 to the client)
    order = trade()
    queue_url = intake.queue_url
    intake.sqs.delete_queue(QueueUrl=queue_url)
    assert intake.post(order)["statusCode"] == 503
    intake.sqs.create_queue(QueueName="trades-test")

    # WHEN the client retries
    response = intake.post(order)

    # THEN it is accepted without a message: the journal entry stays pending, and the
    # reconciler queues it once its grace period has passed
    assert response["statusCode"] == 202
    assert intake.queued() == []
    assert "pending" in _journal_item(intake, order["trade_id"])


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=300)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | st.dictionaries(st.sampled_from([*REQUEST_FIELDS, "x"]), JSON_VALUES, max_size=10).map(
        lambda d: json.dumps({**trade(), **d}).encode()
    )
)
def test_intake_answers_every_body_with_a_status_never_an_exception(raw: bytes) -> None:
    # GIVEN any bytes, any JSON, or a valid order with any fields replaced by any JSON
    def session(token: str) -> Session:
        return Session(expires_at=2**40, account_id=ACCOUNT)

    # WHEN intake decides on it (the handler's logic, with a live session and a queue)
    result = handle_order(raw, max_body_bytes=MAX_BODY, lookup_session=session,
                          journal=lambda _trade: JournalResult(Recorded.NEW),
                          enqueue=lambda t: "id", now=time.time())  # fmt: skip

    # THEN it answers 202, or a 4xx whose errors each name a field
    assert result.status in (202, 400, 403), result
    if result.status == 400:
        assert result.body["errors"]
        assert all(e["field"] and e["message"] for e in result.body["errors"])
