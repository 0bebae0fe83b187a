"""SQS: the trade queue between intake and processor, and its dead-letter queue.

A trade that the processor can never store is retried `MAX_RECEIVE_COUNT` times, then kept
in the DLQ for 14 days with its reason in the processor's log: nothing is dropped.
"""

from __future__ import annotations

from awacs import kms, sqs
from awacs.aws import Action, Bool, Condition, Principal, Statement
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.sqs import Queue, QueuePolicy, RedrivePolicy

from trading_dr.policies import allow, deny, document
from trading_dr.resources.vocabulary.context import KEEP_DATA, StackContext
from trading_dr.resources.vocabulary.refs import KeyRefs, QueueRefs

MAX_RECEIVE_COUNT = 5
RETENTION_S = 4 * 24 * 3600
DLQ_RETENTION_S = 14 * 24 * 3600  # the SQS maximum: time to diagnose and redrive
ALL_SQS_ACTIONS = Action("sqs", "*")


def visibility_timeout(processor_timeout_s: int) -> int:
    """AWS guidance for Lambda event sources: six times the function timeout."""
    return 6 * processor_timeout_s


def _tls_only(template: Template, queues: list[Queue]) -> QueuePolicy:
    return template.add_resource(
        QueuePolicy(
            "TradeQueuesPolicy",
            Queues=[Ref(q) for q in queues],
            PolicyDocument=document(
                deny(
                    "DenyInsecureTransport",
                    [ALL_SQS_ACTIONS],
                    [GetAtt(q, "Arn") for q in queues],
                    Condition(Bool("aws:SecureTransport", "false")),
                    principal=Principal("*"),
                )
            ),
        )
    )


def add_queues(
    template: Template, ctx: StackContext, keys: KeyRefs, processor_timeout_s: int
) -> QueueRefs:
    dlq = template.add_resource(
        Queue(
            "TradeDeadLetterQueue",
            QueueName=ctx.name("trades-dlq"),
            KmsMasterKeyId=keys.data_key_arn,
            KmsDataKeyReusePeriodSeconds=300,
            MessageRetentionPeriod=DLQ_RETENTION_S,
            Tags=ctx.tags(),
            **KEEP_DATA,
        )
    )
    queue = template.add_resource(
        Queue(
            "TradeQueue",
            QueueName=ctx.name("trades"),
            KmsMasterKeyId=keys.data_key_arn,
            KmsDataKeyReusePeriodSeconds=300,
            MessageRetentionPeriod=RETENTION_S,
            VisibilityTimeout=visibility_timeout(processor_timeout_s),
            # Long polling by default: fewer empty receives, lower latency.
            ReceiveMessageWaitTimeSeconds=20,
            RedrivePolicy=RedrivePolicy(
                deadLetterTargetArn=GetAtt(dlq, "Arn"), maxReceiveCount=MAX_RECEIVE_COUNT
            ),
            Tags=ctx.tags(),
            **KEEP_DATA,
        )
    )
    # Only the trade queue may move messages into the DLQ. Its ARN is built from its name:
    # a GetAtt would be a cycle, since the trade queue's redrive policy names the DLQ.
    dlq.RedriveAllowPolicy = {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [
            Sub(
                f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{ctx.name('trades')}"
            )
        ],
    }
    _tls_only(template, [queue, dlq])
    return QueueRefs(
        queue_url=Ref(queue),
        queue_arn=GetAtt(queue, "Arn"),
        queue_name=GetAtt(queue, "QueueName"),
        dlq_url=Ref(dlq),
        dlq_arn=GetAtt(dlq, "Arn"),
        dlq_name=GetAtt(dlq, "QueueName"),
    )


def grant_send(queues: QueueRefs, keys: KeyRefs) -> list[Statement]:
    """sqs:SendMessage on the trade queue, and the data key use SQS encryption needs."""
    return [
        allow("SendTrades", (sqs.SendMessage,), [queues.queue_arn]),
        allow("EncryptTradeMessages", (kms.GenerateDataKey, kms.Decrypt), [keys.data_key_arn]),
    ]


def grant_consume(queues: QueueRefs, keys: KeyRefs) -> list[Statement]:
    """What the SQS event source mapping does as the function's role: receive, delete,
    read attributes; Decrypt to read the encrypted messages."""
    return [
        allow(
            "ConsumeTrades",
            (
                sqs.ReceiveMessage,
                sqs.DeleteMessage,
                sqs.GetQueueAttributes,
                sqs.ChangeMessageVisibility,
            ),
            [queues.queue_arn],
        ),
        allow("DecryptTradeMessages", (kms.Decrypt,), [keys.data_key_arn]),
    ]


def grant_read_attributes(queues: QueueRefs) -> list[Statement]:
    """sqs:GetQueueAttributes only: a reachability check that reads no message."""
    return [allow("ReadTradeQueueAttributes", (sqs.GetQueueAttributes,), [queues.queue_arn])]
