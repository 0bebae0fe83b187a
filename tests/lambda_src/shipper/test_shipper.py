"""The audit shipper against a real PostgreSQL server (its own login) and S3 from moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pg8000.native
import pytest
import shipper_handler
import shipper_logic
from pg8000.exceptions import InterfaceError
from trading_shared.audit import AuditObject, put_audit_object

from tests.conftest import Database
from tests.lambda_src.helpers import context

BUCKET = "audit-ship-test"


@dataclass
class Outbox:
    db: Database
    s3: Any

    def admin(self) -> pg8000.native.Connection:
        return self.db.server.connect(self.db.name)

    def login(self) -> pg8000.native.Connection:
        """The shipper's own login, with exactly its grants."""
        return pg8000.native.Connection(
            user=self.db.audit_user, password=self.db.audit_password,
            host=self.db.server.host, port=self.db.server.port, database=self.db.name,
        )  # fmt: skip

    def add(self, count: int, *, age_s: int = 0) -> list[AuditObject]:
        """Objects as the processor commits them, `age_s` seconds old."""
        objects = [AuditObject(f"trades/us-east-1/{age_s:04d}-{i:03d}.jsonl",
                               f'{{"n":{i}}}\n'.encode()) for i in range(count)]  # fmt: skip
        conn = self.admin()
        for o in objects:
            conn.run(
                "INSERT INTO audit_outbox (object_key, body, created_at) VALUES "
                "(:k, :b, now() - make_interval(secs => :age))",
                k=o.key, b=o.body, age=age_s,
            )  # fmt: skip
        conn.close()
        return objects

    def waiting(self) -> list[str]:
        conn = self.admin()
        try:
            return [r[0] for r in conn.run("SELECT object_key FROM audit_outbox ORDER BY 1")]
        finally:
            conn.close()

    def bucket(self) -> dict[str, bytes]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {
            o["Key"]: self.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed
        }

    def ship(
        self, put: shipper_logic.Put | None = None, *, batch_size: int = 10,
        time_left: bool = True, conn: Any = None,
    ) -> shipper_logic.ShipReport:  # fmt: skip
        conn = conn or self.login()
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                return shipper_logic.ship(
                    conn, put or (lambda audit: put_audit_object(self.s3, BUCKET, audit)),
                    batch_size=batch_size, pool=pool, time_left=lambda: time_left,
                )  # fmt: skip
        finally:
            conn.close()


@pytest.fixture
def outbox(aws: None, database: Database) -> Outbox:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return Outbox(database, s3)


def test_every_waiting_object_is_put_as_committed_and_removed(outbox: Outbox) -> None:
    # GIVEN five committed audit objects, more than one page
    objects = outbox.add(5, age_s=30)

    # WHEN the shipper runs with pages of two
    report = outbox.ship(batch_size=2)

    # THEN each object is in the bucket with its exact bytes, and the outbox is empty
    assert outbox.bucket() == {o.key: o.body for o in objects}
    assert sorted(report.shipped) == sorted(o.key for o in objects)
    assert (report.state, report.failed, report.waiting, report.oldest_age_s) == (
        shipper_logic.State.SHIPPED, {}, 0, 0.0,
    )  # fmt: skip
    assert outbox.waiting() == []


def test_oldest_objects_ship_first_and_a_run_stops_when_time_runs_out(outbox: Outbox) -> None:
    # GIVEN old and new objects
    old = outbox.add(2, age_s=120)
    new = outbox.add(2, age_s=5)

    # WHEN a run has time for one page only
    report = outbox.ship(batch_size=2, time_left=False)

    # THEN the old ones shipped and the new ones wait, their age reported
    assert sorted(report.shipped) == sorted(o.key for o in old)
    assert outbox.waiting() == sorted(o.key for o in new)
    assert report.waiting == 2
    assert 4 <= report.oldest_age_s < 60


def test_a_failed_put_keeps_its_object_and_the_rest_still_ship(outbox: Outbox) -> None:
    # GIVEN three objects, one of which S3 refuses
    objects = outbox.add(3, age_s=10)
    bad = objects[1].key

    def put(audit: AuditObject) -> None:
        if audit.key == bad:
            raise ConnectionError("S3 unreachable")
        put_audit_object(outbox.s3, BUCKET, audit)

    # WHEN the shipper runs
    report = outbox.ship(put)

    # THEN the other two are delivered, the refused one waits with its reason
    assert report.failed == {bad: "ConnectionError: S3 unreachable"}
    assert set(outbox.bucket()) == {objects[0].key, objects[2].key}
    assert outbox.waiting() == [bad]
    assert report.waiting == 1

    # AND the next run delivers it
    assert outbox.ship().shipped == [bad]
    assert outbox.waiting() == []


def test_a_failing_oldest_object_does_not_hold_up_the_rest(outbox: Outbox) -> None:
    # GIVEN 452 waiting objects, the oldest of which S3 keeps refusing (issue 12, defect 7:
    # each run then shipped 49 and stopped)
    [bad] = outbox.add(1, age_s=300)
    others = outbox.add(451, age_s=60)
    calls: dict[str, int] = {}

    def put(audit: AuditObject) -> None:
        calls[audit.key] = calls.get(audit.key, 0) + 1
        if audit.key == bad.key:
            raise ConnectionError("S3 refuses this object")
        put_audit_object(outbox.s3, BUCKET, audit)

    # WHEN one run with time to spare ships pages of 50
    report = outbox.ship(put, batch_size=50)

    # THEN everything else is shipped in that run, the bad object is tried once, skipped,
    # kept and reported (the handler alarms on it)
    assert len(report.shipped) == 451
    assert set(outbox.bucket()) == {o.key for o in others}
    assert calls[bad.key] == 1
    assert report.failed == {bad.key: "ConnectionError: S3 refuses this object"}
    assert outbox.waiting() == [bad.key]
    assert report.waiting == 1
    assert report.oldest_age_s >= 300


def test_a_lost_delete_puts_the_same_object_again(outbox: Outbox) -> None:
    # GIVEN objects put into the bucket whose DELETE never reached the database
    objects = outbox.add(2)
    conn = outbox.login()
    real_run = conn.run

    def run(sql: str, **params: Any) -> Any:
        if sql.startswith("DELETE"):
            raise InterfaceError("connection lost")
        return real_run(sql, **params)

    conn.run = run
    with pytest.raises(InterfaceError):
        outbox.ship(conn=conn)
    assert outbox.waiting() == sorted(o.key for o in objects)

    # WHEN the shipper runs again
    report = outbox.ship()

    # THEN the same keys are put with the same bytes, and the outbox is empty
    assert sorted(report.shipped) == sorted(o.key for o in objects)
    assert outbox.bucket() == {o.key: o.body for o in objects}
    assert outbox.waiting() == []


def test_a_read_only_member_ships_nothing(outbox: Outbox) -> None:
    # GIVEN a database that is a read-only member (as the secondary cluster is)
    objects = outbox.add(2)
    admin = outbox.admin()
    admin.run(f"ALTER DATABASE {outbox.db.name} SET default_transaction_read_only = on")
    admin.close()

    # WHEN the shipper runs there
    report = outbox.ship()

    # THEN it says so and touches nothing
    assert report.state is shipper_logic.State.READ_ONLY
    assert report.shipped == []
    assert outbox.bucket() == {}
    assert outbox.waiting() == sorted(o.key for o in objects)


def test_an_overlapping_run_leaves_at_once(outbox: Outbox) -> None:
    # GIVEN a run in progress (it holds the shipper's lock)
    outbox.add(1)
    holder = outbox.login()
    holder.run("START TRANSACTION")
    holder.run("SELECT pg_advisory_xact_lock(:k)", k=shipper_logic.ADVISORY_LOCK_KEY)

    # WHEN another run starts, THEN it ships nothing
    report = outbox.ship()
    holder.run("ROLLBACK")
    holder.close()
    assert report.state is shipper_logic.State.BUSY
    assert report.shipped == []
    assert report.waiting == 1


@pytest.fixture
def configured(outbox: Outbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[Outbox]:
    for name, value in {
        "DB_HOST": outbox.db.server.host,
        "DB_PORT": str(outbox.db.server.port),
        "DB_NAME": outbox.db.name,
        "DB_AUTH": "secret",
        "DB_TLS": "disable",
        "AUDIT_BUCKET": BUCKET,
        "ENVIRONMENT": "test",
    }.items():
        monkeypatch.setenv(name, value)
    secret = boto3.client("secretsmanager").create_secret(
        Name="rds!audit-test",
        SecretString=json.dumps(
            {"username": outbox.db.audit_user, "password": outbox.db.audit_password}
        ),
    )
    monkeypatch.setenv("DB_SECRET_ARN", secret["ARN"])
    monkeypatch.setattr(shipper_handler, "_runtime", None)
    yield outbox
    if shipper_handler._runtime is not None:
        shipper_handler._runtime.connections.discard()
        shipper_handler._runtime.pool.shutdown()


def emitted_metrics(output: str) -> dict[str, Any]:
    """The EMF document powertools printed: metric values and their dimensions."""
    for line in output.splitlines():
        doc = json.loads(line) if line.startswith("{") else {}
        if "_aws" in doc:
            [directive] = doc["_aws"]["CloudWatchMetrics"]
            return {"dimensions": directive["Dimensions"][0], **doc}
    raise AssertionError("no metrics emitted")


def test_handler_ships_and_publishes_the_backlog_the_alarm_reads(
    configured: Outbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN three waiting objects
    objects = configured.add(3, age_s=20)

    # WHEN the scheduled invocation runs
    result = shipper_handler.handler({}, context())

    # THEN they are shipped, and the metrics carry the Environment dimension
    assert result == {"state": "shipped", "shipped": 3, "failed": [], "waiting": 0,
                      "oldest_age_s": 0.0}  # fmt: skip
    assert set(configured.bucket()) == {o.key for o in objects}
    emf = emitted_metrics(capsys.readouterr().out)
    assert sorted(emf["dimensions"]) == ["Environment", "service"]
    assert (emf["Environment"], emf["service"]) == ("test", shipper_handler.SERVICE)
    assert (emf["AuditObjectsShipped"], emf["AuditOutboxWaiting"]) == ([3.0], [0.0])
    assert emf["AuditOutboxOldestAgeSeconds"] == [0.0]


def test_handler_fails_when_an_object_could_not_be_put(
    configured: Outbox, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a waiting object and no bucket to put it in
    configured.add(1, age_s=90)
    configured.s3.delete_bucket(Bucket=BUCKET)

    # WHEN the scheduled invocation runs, THEN it fails (the error rate is alarmed) ...
    with pytest.raises(shipper_handler.ShipError, match="1 audit object"):
        shipper_handler.handler({}, context())

    # ... after publishing the backlog, whose age the outbox alarm watches
    emf = emitted_metrics(capsys.readouterr().out)
    assert emf["AuditObjectsFailed"] == [1.0]
    assert emf["AuditOutboxWaiting"] == [1.0]
    assert emf["AuditOutboxOldestAgeSeconds"][0] >= 90
