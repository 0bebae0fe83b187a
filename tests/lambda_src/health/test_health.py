"""GET /health: the contract Route 53 relies on (200 when the region can serve, else 503)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import boto3
import health_handler
import health_logic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import Database
from tests.lambda_src.helpers import context, event

TABLE = "user-sessions-test"
JOURNAL = "trade-journal-test"


@dataclass
class Health:
    db: Database
    sqs: Any
    dynamodb: Any
    queue_url: str

    def get(self) -> tuple[int, dict[str, Any]]:
        response = health_handler.handler(event("health", "get_health"), context())
        return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def health(aws: None, database: Database, monkeypatch: pytest.MonkeyPatch) -> Health:
    secret = boto3.client("secretsmanager").create_secret(
        Name="rds!cluster-health",
        SecretString=json.dumps({"username": database.app_user, "password": database.app_password}),
    )
    sqs, dynamodb = boto3.client("sqs"), boto3.client("dynamodb")
    queue_url = sqs.create_queue(QueueName="trades-test")["QueueUrl"]
    for name, key in ((TABLE, "session_token"), (JOURNAL, "trade_id")):
        dynamodb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    for name, value in {
        "DB_HOST": database.server.host,
        "DB_PORT": str(database.server.port),
        "DB_NAME": database.name,
        "DB_SECRET_ARN": secret["ARN"],
        "DB_TLS": "disable",
        "TRADE_QUEUE_URL": queue_url,
        "SESSIONS_TABLE_NAME": TABLE,
        "JOURNAL_TABLE_NAME": JOURNAL,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(health_handler, "_runtime", None)
    return Health(database, sqs, dynamodb, queue_url)


def test_region_with_all_dependencies_reachable_is_healthy(health: Health) -> None:
    # GIVEN database, queue and sessions table all up
    # WHEN Route 53 asks
    status, body = health.get()

    # THEN 200 with the region and every check passing
    assert status == 200
    assert body["region"] == "us-east-1"
    assert body["status"] == "ok"
    assert body["database_role"] == "writer"
    assert set(body["checks"]) == {"database", "queue", "sessions", "journal"}
    assert all(c["ok"] for c in body["checks"].values())


def test_database_down_makes_the_region_unhealthy(health: Health) -> None:
    # GIVEN the database is down
    health.db.server.stop("fast")
    try:
        # WHEN Route 53 asks
        status, body = health.get()
    finally:
        health.db.server.start()

    # THEN 503 names the database as the failing check, without internal detail
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {
        "ok": False,
        "error": "InterfaceError",
        "latency_ms": body["checks"]["database"]["latency_ms"],
    }
    assert body["checks"]["queue"]["ok"]
    assert body["checks"]["sessions"]["ok"]

    # AND once it is back the region is healthy again (nothing stale kept)
    assert health.get()[0] == 200


@pytest.mark.parametrize("dependency", ["queue", "sessions", "journal"])
def test_missing_aws_dependency_makes_the_region_unhealthy(health: Health, dependency: str) -> None:
    # GIVEN the queue, the sessions table or the journal is gone
    if dependency == "queue":
        health.sqs.delete_queue(QueueUrl=health.queue_url)
    else:
        health.dynamodb.delete_table(TableName={"sessions": TABLE, "journal": JOURNAL}[dependency])

    # WHEN Route 53 asks
    status, body = health.get()

    # THEN 503 and only that check fails
    assert status == 503
    assert [name for name, c in body["checks"].items() if not c["ok"]] == [dependency]


def test_wrong_database_password_makes_the_region_unhealthy(
    health: Health, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the secret holds a password the database refuses
    secret = boto3.client("secretsmanager").create_secret(
        Name="rds!cluster-wrong", SecretString=json.dumps({"username": "postgres", "password": "x"})
    )
    monkeypatch.setenv("DB_SECRET_ARN", secret["ARN"])

    # WHEN Route 53 asks
    status, body = health.get()

    # THEN 503 from the database check
    assert status == 503
    assert body["checks"]["database"]["error"] == "DatabaseError"


def test_a_check_that_hangs_fails_at_the_deadline() -> None:
    # GIVEN a probe slower than the deadline and one that passes
    def slow() -> None:
        time.sleep(1.0)

    # WHEN the checks run with a 0.2 s deadline
    start = time.monotonic()
    checks = health_logic.run_checks({"slow": slow, "fast": lambda: None}, timeout_s=0.2)
    elapsed = time.monotonic() - start

    # THEN the answer comes at the deadline, the slow check failed as a timeout
    assert elapsed < 0.8
    status, body = health_logic.health("us-east-2", checks)
    assert status == 503
    assert body["checks"]["slow"]["error"] == "Timeout"
    assert body["checks"]["fast"]["ok"] is True


def test_a_read_only_member_can_accept_trades() -> None:
    # GIVEN a database answering as a read-only member (the recovery region before the
    # promotion, or the old primary after a switchover)
    roles: dict[str, str] = {}
    probe = health_logic.database_probe(_ReadOnly(), roles)  # type: ignore[arg-type]

    # WHEN Route 53's traffic check runs the probes
    checks = health_logic.run_checks({"database": probe, "queue": lambda: None}, timeout_s=1)
    status, body = health_logic.health("us-east-2", checks, roles)

    # THEN the region is healthy: intake journals and queues the trade, the processor
    # defers it until this region is the writer, the writer's reconciler replays it
    assert status == 200
    assert body["database_role"] == "reader"


class _ReadOnly:
    """A connection answering as a read-only Aurora member (pg_is_in_recovery true)."""

    def connect(self) -> Any:
        class Conn:
            def run(self, sql: str) -> list[list[bool]]:
                assert sql == "SELECT pg_is_in_recovery()"
                return [[True]]

            def close(self) -> None:
                pass

        return Conn()


def test_liveness_query_answers_200_on_a_serving_region(health: Health) -> None:
    request = event("health", "get_health")
    request["queryStringParameters"] = {"probe": "liveness"}
    response = health_handler.handler(request, context())
    assert response["statusCode"] == 200


@pytest.mark.parametrize(
    ("params", "liveness"),
    [
        ({"probe": "liveness"}, True),
        (None, False),
        ({}, False),
        ({"probe": "LIVENESS"}, False),
        ({"probe": "writer"}, False),
        ({"other": "liveness"}, False),
        ("probe=liveness", False),
    ],
)
def test_only_the_exact_liveness_query_is_named_a_liveness_probe(
    params: Any, liveness: bool
) -> None:
    assert health_logic.wants_liveness({"queryStringParameters": params}) is liveness


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=20)) | st.none() | st.text())
def test_any_other_query_is_a_traffic_probe(params: Any) -> None:
    expected = isinstance(params, dict) and params.get("probe") == "liveness"
    assert health_logic.wants_liveness({"queryStringParameters": params}) is expected
