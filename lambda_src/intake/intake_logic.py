"""POST /trades: decide the response to one order; the handler supplies the AWS calls."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from trading_shared.aws import InvalidSessionError, Session
from trading_shared.journal import JournalResult, Recorded
from trading_shared.trade import (
    FieldError,
    Trade,
    TradeValidationError,
    parse_json_body,
    parse_trade_request,
)


@dataclass(frozen=True)
class Result:
    status: int
    body: dict[str, Any]
    outcome: str  # metric name and log field
    trade_id: str | None = None
    detail: list[str] = field(default_factory=list)


def invalid(errors: list[FieldError]) -> Result:
    return Result(
        400,
        {"error": "invalid_request", "errors": [e.as_dict() for e in errors]},
        "Invalid",
        detail=[f"{e.field}: {e.message}" for e in errors],
    )


def handle_order(
    raw: bytes | None,
    *,
    max_body_bytes: int,
    lookup_session: Callable[[str], Session | None],
    journal: Callable[[Trade], JournalResult],
    enqueue: Callable[[Trade], str],
    now: float,
) -> Result:
    """Validate, authorise, journal, then queue. The journal write comes first: once it
    holds the trade, the reconciler stores it even if the queue loses it (or its region
    fails), so 202 means durable in two regions within the journal's replication."""
    if raw is None:
        return invalid([FieldError("body", "must be a text or valid base64 body")])
    if len(raw) > max_body_bytes:
        return invalid([FieldError("body", f"must be at most {max_body_bytes} bytes")])
    try:
        request = parse_trade_request(parse_json_body(raw))
    except TradeValidationError as exc:
        return invalid(exc.errors)

    trade = request.trade
    try:
        refusal = _authorise(lookup_session, request.session_token, trade, now)
        if refusal is not None:
            return refusal
        return _accept(trade, journal(trade), enqueue)
    except (BotoCoreError, ClientError) as exc:
        # The client may retry safely: trade_id makes the order idempotent downstream.
        return Result(
            503,
            {"error": "unavailable", "message": "try again", "trade_id": trade.trade_id},
            "Unavailable",
            trade.trade_id,
            detail=[f"{type(exc).__name__}: {exc}"],
        )


def _accept(trade: Trade, recorded: JournalResult, enqueue: Callable[[Trade], str]) -> Result:
    if recorded.outcome is Recorded.CONFLICT:
        return _conflict(trade, recorded)
    body = {"status": "accepted", "trade_id": trade.trade_id}
    if recorded.outcome is Recorded.RETRY:
        # A retry queues nothing: its first attempt queued it, or, if that attempt's
        # SendMessage failed after the journal write, the reconciler replays it.
        return Result(202, body, "Retried", trade.trade_id)
    enqueue(trade)
    return Result(202, body, "Accepted", trade.trade_id)


def _conflict(trade: Trade, recorded: JournalResult) -> Result:
    fields = list(recorded.conflicting_fields)
    return Result(
        409,
        {
            "error": "conflict",
            "message": f"trade_id {trade.trade_id} was already accepted for a different "
            f"trade (differing: {', '.join(fields)}); use a new trade_id for a new trade",
            "trade_id": trade.trade_id,
            "conflicting_fields": fields,
        },
        "Conflict",
        trade.trade_id,
        detail=[f"differing: {', '.join(fields)}"],
    )


def _unauthorised(trade: Trade, detail: str) -> Result:
    # The client learns only that the session cannot be used; the log says why.
    return Result(
        401,
        {"error": "unauthorized", "message": "session is missing or expired"},
        "Unauthorized",
        trade.trade_id,
        detail=[detail],
    )


def _authorise(
    lookup_session: Callable[[str], Session | None], token: str, trade: Trade, now: float
) -> Result | None:
    """None when the session may place this trade; else the refusal. Fail closed: a session
    item missing or malformed in any attribute authorises nothing."""
    try:
        session = lookup_session(token)
    except InvalidSessionError as exc:
        return _unauthorised(trade, f"malformed session: {exc}")
    if session is None:
        return _unauthorised(trade, "no such session")
    if not session.valid_at(now):
        return _unauthorised(trade, "session expired")
    if session.account_id != trade.account_id:
        return Result(
            403,
            {"error": "forbidden", "message": "session does not belong to account_id"},
            "Forbidden",
            trade.trade_id,
        )
    return None
