"""CloudWatch Logs groups: every one with the environment's retention, encrypted with the
region's logs key, and kept (with its records) when its stack goes."""

from __future__ import annotations

from troposphere import Template
from troposphere.logs import LogGroup

from trading_dr.resources.vocabulary.context import KEEP_DATA, StackContext
from trading_dr.resources.vocabulary.refs import AWSHelperFn


def add_log_group(
    template: Template, ctx: StackContext, logical_id: str, name: str, logs_key_arn: AWSHelperFn
) -> LogGroup:
    return template.add_resource(
        LogGroup(
            logical_id,
            LogGroupName=name,
            RetentionInDays=ctx.env.log_retention_days,
            KmsKeyId=logs_key_arn,
            Tags=ctx.tags(),
            **KEEP_DATA,
        )
    )
