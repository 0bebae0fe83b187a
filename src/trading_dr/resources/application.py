"""The trade path's functions: intake, processor, health, the audit shipper, the journal
reconciler and the schema migrator.

Each spec names the handler inside its zip, the environment variables its settings module
reads (lambda_src/shared/trading_shared/settings.py) and exactly the grants it needs.
Functions reach Aurora as the `trading_app` database user with IAM authentication:
tokens are signed locally from the function's role, so no secret has to exist in, or be
fetched from, another region during a failover. Only the migrator logs in as the master
user, with the RDS-managed secret, in the writer region; the audit shipper logs in as
`trading_audit`, which may read and delete audit outbox rows and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from awacs import dynamodb, kms, s3, secretsmanager
from awacs.aws import Statement
from awacs.rds_db import connect as rds_db_connect
from troposphere import Sub, Template
from troposphere.awslambda import EventSourceMapping, ScalingConfig
from troposphere.validators import integer

from trading_dr.config_sections import JournalSettings
from trading_dr.policies import allow
from trading_dr.resources.functions import Artifacts, FunctionSpec, add_function, add_schedule
from trading_dr.resources.journal import PENDING_INDEX
from trading_dr.resources.queues import grant_consume, grant_read_attributes, grant_send
from trading_dr.resources.sessions import regional_table_arn
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import (
    AWSHelperFn,
    DatabaseRefs,
    FunctionRefs,
    KeyRefs,
    NetworkRefs,
    QueueRefs,
    StorageRefs,
)

APP_DB_USER = "trading_app"  # created by migration 0002 with the rds_iam role
AUDIT_DB_USER = "trading_audit"  # the shipper's login, created by migration 0003
# The processor commits each batch's audit object into the database outbox; the shipper
# moves them into the audit bucket this often, so an object reaches S3 within about that.
SHIP_SCHEDULE = "rate(1 minute)"
SHIPPER_TIMEOUT_S = 60
PROCESSOR_TIMEOUT_S = 60
BATCH_SIZE = 100
# One second of batching bounds the added latency while filling batches under load.
BATCH_WINDOW_S = 1
PROCESSOR_MAX_CONCURRENCY = 10
# In a region that is not the writer, the processor sends a trade it cannot store back
# to the queue with this delay (SQS allows 0-900 s); the writer's reconciler stores it.
DEFER_DELAY_S = 60
# EventBridge's finest rate; the reconciler makes a pass every pass_interval_s within it.
RECONCILE_SCHEDULE = "rate(1 minute)"
# Its last pass starts under 60 s into the run and may take a while on a large backlog.
RECONCILER_TIMEOUT_S = 120


class EventSourceScalingConfig(ScalingConfig):  # type: ignore[misc]
    """troposphere 4.11 gives EventSourceMapping the web-endpoint ScalingConfig by a name
    clash; this is the event source mapping's own property type."""

    props: ClassVar[dict[str, tuple[object, bool]]] = {"MaximumConcurrency": (integer, False)}


@dataclass(frozen=True)
class ApplicationRefs:
    intake: FunctionRefs
    processor: FunctionRefs
    health: FunctionRefs
    shipper: FunctionRefs
    reconciler: FunctionRefs
    migrate: FunctionRefs | None  # only where the writer (and its secret) lives


def _database_env(db: DatabaseRefs) -> dict[str, AWSHelperFn | str]:
    # The regional cluster endpoint: writable only where the writer is, so after a
    # failover the recovery region writes locally and a fenced old primary cannot.
    # TLS is required by the cluster (rds.force_ssl) and the client verifies the server
    # certificate and host name against the RDS CA bundle shipped in every zip: the IAM
    # token sent as the password never reaches an impostor. (Using SSL/TLS to encrypt a
    # connection to a DB cluster, Aurora User Guide.)
    return {
        "DB_HOST": db.endpoint,
        "DB_PORT": db.port,
        "DB_NAME": "trading",
        "DB_TLS": "verify-full",
    }


def _iam_login(
    db: DatabaseRefs, user: str = APP_DB_USER, sid: str = "ConnectAsAppUser"
) -> Statement:
    return allow(
        sid,
        (rds_db_connect,),
        [
            Sub(
                "arn:${AWS::Partition}:rds-db:${AWS::Region}:${AWS::AccountId}:dbuser:"
                f"${{ClusterResourceId}}/{user}",
                ClusterResourceId=db.cluster_resource_id,
            )
        ],
    )


def _write_audit_records(storage: StorageRefs, keys: KeyRefs) -> list[Statement]:
    """s3:PutObject under trades/ of this region's audit bucket, and the data key that
    encrypts the objects (SSE-KMS): what putting an audit object takes."""
    return [
        allow(
            "WriteAuditRecords",
            (s3.PutObject,),
            [Sub("${Arn}/trades/*", Arn=storage.audit_bucket_arn)],
        ),
        allow("EncryptAuditRecords", (kms.GenerateDataKey,), [keys.data_key_arn]),
    ]


@dataclass(frozen=True)
class ApplicationProps:
    """What the trade path's functions use, from the builders before it."""

    network: NetworkRefs
    keys: KeyRefs
    db: DatabaseRefs
    storage: StorageRefs
    queues: QueueRefs
    sessions_table: AWSHelperFn
    journal_table: AWSHelperFn
    artifacts: Artifacts


def add_application(
    template: Template, ctx: StackContext, props: ApplicationProps
) -> ApplicationRefs:
    def add(spec: FunctionSpec) -> FunctionRefs:
        return add_function(template, ctx, spec, props.network, props.keys, props.artifacts)

    intake = add(_intake(ctx, props))
    processor = add(_processor(props))
    _add_trade_queue_mapping(template, props.queues, processor)
    health = add(_health(props))
    shipper = add(_shipper(ctx, props))
    # In both regions: only the writer's database lets it delete rows, and after a failover
    # the new writer's shipper drains what the old one left (the table is replicated).
    add_schedule(
        template, ctx, "AuditShipRule", SHIP_SCHEDULE, ("shipper", shipper), "{}",
        "ship the audit outbox into the audit bucket",
    )  # fmt: skip
    reconciler = _add_reconciler(template, ctx, add, props)
    secret_arn = props.db.secret_arn
    migrate = add(_migrator(props, secret_arn)) if secret_arn is not None else None
    return ApplicationRefs(
        intake=intake, processor=processor, health=health, shipper=shipper,
        reconciler=reconciler, migrate=migrate,
    )  # fmt: skip


def _app_login_env(db: DatabaseRefs) -> dict[str, AWSHelperFn | str]:
    return {**_database_env(db), "DB_AUTH": "iam", "DB_USER": APP_DB_USER}


def _intake(ctx: StackContext, props: ApplicationProps) -> FunctionSpec:
    return FunctionSpec(
        name="intake",
        handler="intake_handler.handler",
        description="POST /trades: validate, check the session, enqueue",
        memory_mb=512,
        timeout_s=10,
        reserved_concurrency=100,
        environment={
            "TRADE_QUEUE_URL": props.queues.queue_url,
            "SESSIONS_TABLE_NAME": props.sessions_table,
            "JOURNAL_TABLE_NAME": props.journal_table,
            "JOURNAL_TTL_DAYS": str(ctx.env.journal.ttl_days),
        },
        statements=[
            allow("ReadSessions", (dynamodb.GetItem,), [regional_table_arn(props.sessions_table)]),
            # A conditional PutItem; a refused one returns the stored item itself.
            allow("JournalTrades", (dynamodb.PutItem,), [regional_table_arn(props.journal_table)]),
            *grant_send(props.queues, props.keys),
        ],
    )


def _processor(props: ApplicationProps) -> FunctionSpec:
    return FunctionSpec(
        name="processor",
        handler="processor_handler.handler",
        description="SQS: store each trade once in Aurora with its batch's audit object",
        memory_mb=512,
        timeout_s=PROCESSOR_TIMEOUT_S,
        reserved_concurrency=PROCESSOR_MAX_CONCURRENCY,
        environment={
            **_app_login_env(props.db),
            "AUDIT_BUCKET": props.storage.audit_bucket,
            "TRADE_QUEUE_URL": props.queues.queue_url,
            "DEFER_DELAY_SECONDS": str(DEFER_DELAY_S),
        },
        statements=[
            *grant_consume(props.queues, props.keys),
            # Where it is not the writer, trades it cannot store go back to the queue.
            *grant_send(props.queues, props.keys),
            _iam_login(props.db),
            # Only when the database is down does the processor put a batch's audit
            # object itself (the batch then stored nothing, and is redelivered).
            *_write_audit_records(props.storage, props.keys),
        ],
    )


def _add_trade_queue_mapping(
    template: Template, queues: QueueRefs, processor: FunctionRefs
) -> None:
    template.add_resource(
        EventSourceMapping(
            "ProcessorTradeQueueMapping",
            EventSourceArn=queues.queue_arn,
            FunctionName=processor.name,
            BatchSize=BATCH_SIZE,
            MaximumBatchingWindowInSeconds=BATCH_WINDOW_S,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            ScalingConfig=EventSourceScalingConfig(MaximumConcurrency=PROCESSOR_MAX_CONCURRENCY),
            Enabled=True,
        )
    )


def _health(props: ApplicationProps) -> FunctionSpec:
    return FunctionSpec(
        name="health",
        handler="health_handler.handler",
        description="GET /health: can this region accept trades? (Route 53 health check)",
        memory_mb=256,
        timeout_s=5,
        reserved_concurrency=10,
        environment={
            **_app_login_env(props.db),
            "TRADE_QUEUE_URL": props.queues.queue_url,
            "SESSIONS_TABLE_NAME": props.sessions_table,
            "JOURNAL_TABLE_NAME": props.journal_table,
            "HEALTH_TIMEOUT_SECONDS": "1.5",
        },
        statements=[
            *grant_read_attributes(props.queues),
            # Intake needs both tables: their replicas here must be ACTIVE.
            allow(
                "DescribeIntakeTables",
                (dynamodb.DescribeTable,),
                [regional_table_arn(props.sessions_table), regional_table_arn(props.journal_table)],
            ),
            _iam_login(props.db),
        ],
    )


def _shipper(ctx: StackContext, props: ApplicationProps) -> FunctionSpec:
    return FunctionSpec(
        name="shipper",
        handler="shipper_handler.handler",
        description="Put each batch's audit object from the database outbox into S3",
        memory_mb=256,
        timeout_s=SHIPPER_TIMEOUT_S,
        reserved_concurrency=1,  # runs take an advisory lock anyway
        environment={
            **_database_env(props.db),
            "DB_AUTH": "iam",
            "DB_USER": AUDIT_DB_USER,
            "AUDIT_BUCKET": props.storage.audit_bucket,
            "ENVIRONMENT": ctx.env.suffix,
        },
        statements=[
            _iam_login(props.db, AUDIT_DB_USER, "ConnectAsAuditUser"),
            *_write_audit_records(props.storage, props.keys),
        ],
    )


def _migrator(props: ApplicationProps, secret_arn: AWSHelperFn) -> FunctionSpec:
    """Only where the writer (and so the master secret) lives."""
    db = props.db
    return FunctionSpec(
        name="migrate",
        handler="migrate_handler.handler",
        description="Apply the reviewed SQL migrations (invoked once per rollout)",
        memory_mb=256,
        timeout_s=300,
        reserved_concurrency=1,  # migrations take an advisory lock anyway
        environment={
            **_database_env(db),
            "DB_AUTH": "secret",
            "DB_SECRET_ARN": secret_arn,
            # One statement may rewrite a large table: well inside the 300 s timeout.
            "DB_TIMEOUT_SECONDS": "240",
        },
        statements=[
            allow("ReadMasterSecret", (secretsmanager.GetSecretValue,), [secret_arn]),
            allow("DecryptMasterSecret", (kms.Decrypt,), [props.keys.data_key_arn]),
        ],
    )


def reconciler_environment(ctx: StackContext, journal: JournalSettings) -> dict[str, str]:
    """The reconciler's timing, which the DR budget reads back from the template."""
    return {
        "ENVIRONMENT": ctx.env.suffix,
        "GRACE_SECONDS": str(journal.grace_s),
        "PASS_INTERVAL_SECONDS": str(journal.pass_interval_s),
        "LOOKBACK_MINUTES": str(journal.lookback_minutes),
    }


def _add_reconciler(
    template: Template,
    ctx: StackContext,
    add: Callable[[FunctionSpec], FunctionRefs],
    props: ApplicationProps,
) -> FunctionRefs:
    """In both regions; it replays only where the database is the writer, so after a
    failover the new writer's reconciler stores what the old primary's queue stranded."""
    db, queues, journal_table = props.db, props.queues, props.journal_table
    reconciler = add(
        FunctionSpec(
            name="reconciler",
            handler="reconciler_handler.handler",
            description="Queue again accepted trades that the journal holds and Aurora lacks",
            memory_mb=256,
            timeout_s=RECONCILER_TIMEOUT_S,
            reserved_concurrency=1,  # one pass at a time per region
            environment={
                **_database_env(db),
                "DB_AUTH": "iam",
                "DB_USER": APP_DB_USER,
                "JOURNAL_TABLE_NAME": journal_table,
                "TRADE_QUEUE_URL": queues.queue_url,
                **reconciler_environment(ctx, ctx.env.journal),
            },
            statements=[
                # The pending index only: the time window is a Query, never a Scan.
                allow(
                    "QueryPendingJournal",
                    (dynamodb.Query,),
                    [regional_table_arn(journal_table, PENDING_INDEX)],
                ),
                # REMOVE of the pending marker once the trade is seen in Aurora.
                allow(
                    "ClearReconciledJournal",
                    (dynamodb.UpdateItem,),
                    [regional_table_arn(journal_table)],
                ),
                # Reads trades (trading_app may SELECT and INSERT; it only SELECTs here).
                _iam_login(db),
                *grant_send(queues, props.keys),
            ],
        )
    )
    add_schedule(
        template, ctx, "ReconcileRule", RECONCILE_SCHEDULE, ("reconciler", reconciler), "{}",
        "replay accepted trades missing from Aurora (writer region only)",
    )  # fmt: skip
    return reconciler
