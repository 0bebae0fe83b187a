"""The alarm topic of a region: SNS, encrypted with a key of its own, and the operators'
e-mail subscription. Every alarm of `monitoring.py` notifies it."""

from __future__ import annotations

from awacs import kms
from awacs.aws import Principal, StringEquals
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.kms import Alias, Key
from troposphere.sns import SubscriptionResource, Topic

from trading_dr.policies import account_root, all_of, allow, document
from trading_dr.resources.keys import ADMIN_ACTIONS, USE_ACTIONS
from trading_dr.resources.vocabulary.context import KEEP_DATA, StackContext


# Metrics the platform publishes itself (validator, failover workflow).
def add_alarm_topic(template: Template, ctx: StackContext) -> tuple[Key, Topic]:
    """The alarm topic, encrypted with its own key, and the operators' subscription."""
    key = _topic_key(template, ctx)
    topic = template.add_resource(
        Topic(
            "AlarmTopic",
            TopicName=ctx.name("alarms"),
            DisplayName=f"trading-dr {ctx.env.suffix} {ctx.region}",
            KmsMasterKeyId=GetAtt(key, "Arn"),
            Tags=ctx.tags(),
        )
    )
    template.add_resource(
        SubscriptionResource(
            "AlarmEmailSubscription",
            TopicArn=Ref(topic),
            Protocol="email",
            Endpoint=ctx.env.alarm_email,
        )
    )
    return key, topic


def _topic_key(template: Template, ctx: StackContext) -> Key:
    """A key of the topic's own: the CloudWatch service principal must be able to use it,
    and that grant must not extend to the key protecting trades."""
    key = template.add_resource(
        Key(
            "AlarmTopicKey",
            Description=f"trading-dr {ctx.env.suffix} {ctx.role.value}: alarm topic",
            EnableKeyRotation=True,
            PendingWindowInDays=30,
            KeyPolicy=document(
                allow("AccountAdministersKey", ADMIN_ACTIONS, ["*"], principal=account_root()),
                allow(
                    "UseThroughSnsOnly",
                    USE_ACTIONS,
                    ["*"],
                    all_of(
                        StringEquals("kms:ViaService", f"sns.{ctx.region}.amazonaws.com"),
                        StringEquals("kms:CallerAccount", Sub("${AWS::AccountId}")),
                    ),
                    principal=account_root(),
                ),
                # CloudWatch alarms publish to encrypted topics as the service itself.
                allow(
                    "CloudWatchAlarmsPublish",
                    (kms.Decrypt, kms.GenerateDataKey),
                    ["*"],
                    all_of(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
                    principal=Principal("Service", ["cloudwatch.amazonaws.com"]),
                ),
            ),
            Tags=ctx.tags(),
            **KEEP_DATA,
        )
    )
    template.add_resource(
        Alias("AlarmTopicKeyAlias", AliasName=f"alias/{ctx.name('alarms')}", TargetKeyId=Ref(key))
    )
    return key
