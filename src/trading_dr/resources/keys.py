"""Customer-managed KMS keys of one region: one for data stores, one for CloudWatch Logs.

Two keys rather than one so that the logs service principal, which must be named in the
key policy, never gains any use of the key that protects trades. Key policies grant the
account (so IAM policies decide who) only through the AWS services that store our data,
in this region: a stolen role cannot call kms:Decrypt directly on ciphertext it copied.
"""

from __future__ import annotations

from awacs import kms
from awacs.aws import ArnLike, Condition, Principal, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.kms import Alias, Key

from trading_dr.policies import account_root, all_of, allow, document
from trading_dr.resources.vocabulary.context import KEEP_DATA, StackContext
from trading_dr.resources.vocabulary.refs import KeyRefs

# Administration stays with the account (and so with IAM): without it the key would be
# unmanageable. Enumerated rather than kms:* so no use of the key hides in here.
ADMIN_ACTIONS = (
    kms.CancelKeyDeletion,
    kms.CreateAlias,
    kms.CreateGrant,
    kms.DeleteAlias,
    kms.DescribeKey,
    kms.DisableKey,
    kms.EnableKey,
    kms.EnableKeyRotation,
    kms.GetKeyPolicy,
    kms.GetKeyRotationStatus,
    kms.ListGrants,
    kms.ListKeyPolicies,
    kms.ListResourceTags,
    kms.PutKeyPolicy,
    kms.RevokeGrant,
    kms.ScheduleKeyDeletion,
    kms.TagResource,
    kms.UntagResource,
    kms.UpdateAlias,
    kms.UpdateKeyDescription,
)
USE_ACTIONS = (
    kms.Decrypt,
    kms.Encrypt,
    kms.GenerateDataKey,
    kms.GenerateDataKeyWithoutPlaintext,
    kms.ReEncryptFrom,
    kms.ReEncryptTo,
    kms.DescribeKey,
    kms.CreateGrant,
)
# The services that encrypt our data at rest with the data key.
DATA_KEY_SERVICES = ("rds", "s3", "sqs", "sns", "secretsmanager", "dynamodb", "lambda", "ssm")


def _admin_statement() -> Statement:
    # In a key policy "*" is this key itself; key policies cannot name their own ARN.
    return allow("AccountAdministersKey", ADMIN_ACTIONS, ["*"], principal=account_root())


def _via_services(ctx: StackContext, services: tuple[str, ...]) -> Statement:
    via = [f"{service}.{ctx.region}.amazonaws.com" for service in services]
    return allow(
        "UseThroughOwnServicesOnly",
        USE_ACTIONS,
        ["*"],
        all_of(
            StringEquals("kms:ViaService", via),
            StringEquals("kms:CallerAccount", Sub("${AWS::AccountId}")),
        ),
        principal=account_root(),
    )


def _logs_service(ctx: StackContext) -> Statement:
    return allow(
        "CloudWatchLogsEncryptsOwnLogGroups",
        (kms.Encrypt, kms.Decrypt, kms.ReEncryptFrom, kms.ReEncryptTo, kms.GenerateDataKey,
         kms.DescribeKey),
        ["*"],
        Condition(
            ArnLike(
                "kms:EncryptionContext:aws:logs:arn",
                Sub(f"arn:${{AWS::Partition}}:logs:{ctx.region}:${{AWS::AccountId}}:log-group:*"),
            )
        ),
        principal=Principal("Service", [f"logs.{ctx.region}.amazonaws.com"]),
    )  # fmt: skip


def add_keys(
    template: Template, ctx: StackContext, data_key_principals: tuple[Statement, ...] = ()
) -> KeyRefs:
    """Add the data and logs keys with aliases; `data_key_principals` adds service grants."""
    data_key = template.add_resource(
        Key(
            "DataKey",
            Description=f"trading-dr {ctx.env.suffix} {ctx.role.value}: data at rest",
            EnableKeyRotation=True,
            PendingWindowInDays=30,
            KeyPolicy=document(
                _admin_statement(),
                _via_services(ctx, DATA_KEY_SERVICES),
                *data_key_principals,
            ),
            Tags=ctx.tags(),
            **KEEP_DATA,
        )
    )
    logs_key = template.add_resource(
        Key(
            "LogsKey",
            Description=f"trading-dr {ctx.env.suffix} {ctx.role.value}: CloudWatch Logs",
            EnableKeyRotation=True,
            PendingWindowInDays=30,
            KeyPolicy=document(_admin_statement(), _logs_service(ctx)),
            Tags=ctx.tags(),
            **KEEP_DATA,
        )
    )
    template.add_resource(
        Alias("DataKeyAlias", AliasName=f"alias/{ctx.name('data')}", TargetKeyId=Ref(data_key))
    )
    template.add_resource(
        Alias("LogsKeyAlias", AliasName=f"alias/{ctx.name('logs')}", TargetKeyId=Ref(logs_key))
    )
    return KeyRefs(
        data_key_arn=GetAtt(data_key, "Arn"),
        data_key_id=Ref(data_key),
        logs_key_arn=GetAtt(logs_key, "Arn"),
    )
