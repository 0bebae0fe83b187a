"""The observer: a probe in a third region, so an automatic failover has two vantage points.

Every minute a small function (lambda_src/observer, inline: no artifact bucket is needed in
the observer's region) GETs both regions' `/health?probe=liveness` every OBSERVER_PERIOD_S
seconds and publishes `RegionAlive` (high resolution) for each into BOTH regions'
CloudWatch, in the namespace `TradingDR/Observer` that only its role may write. Each
region's quorum alarms (quorum.py) read the observer's view of its peer there: alarms can
only read metrics of their own region.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from awacs import cloudwatch, logs, xray
from awacs.aws import StringEquals
from troposphere import GetAtt, Ref, Template
from troposphere.awslambda import (
    Code,
    Environment,
    Function,
    LoggingConfig,
    TracingConfig,
)
from troposphere.iam import Policy, Role
from troposphere.logs import LogGroup

from trading_dr.config import Role as StackRole
from trading_dr.policies import all_of, allow, document, service_trust, unscoped
from trading_dr.resources.functions import ARCHITECTURE, RUNTIME, add_schedule
from trading_dr.resources.keys import add_keys
from trading_dr.resources.log_groups import add_log_group
from trading_dr.resources.routing import LIVENESS_PATH
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import FunctionRefs, KeyRefs

OBSERVER_NAMESPACE = "TradingDR/Observer"
OBSERVED_METRIC = "RegionAlive"
OBSERVER_PERIOD_S = 10
# Six samples 10 s apart fill the minute between two scheduled runs.
OBSERVER_SAMPLES = 6
# Six samples with their 3 s timeouts, plus the puts: under the next run's start.
OBSERVER_TIMEOUT_S = 70
SOURCE = Path(__file__).resolve().parents[3] / "lambda_src" / "observer" / "observer_probe.py"


@dataclass(frozen=True)
class ObserverRefs:
    function: FunctionRefs


def observer_source() -> str:
    """The function's code, placed inline (CloudFormation writes it as index.py)."""
    return SOURCE.read_text(encoding="utf-8")


def probed_regions(ctx: StackContext) -> dict[str, str]:
    """Region -> its liveness URL, for the primary and the secondary."""
    return {
        ctx.env.region_of(role): f"https://{ctx.env.region_of(role)}.api.{ctx.env.domain}"
        f"{LIVENESS_PATH}"
        for role in (StackRole.PRIMARY, StackRole.SECONDARY)
    }


def observer_dimensions(ctx: StackContext, region: str) -> dict[str, str]:
    """The dimensions of what the observer publishes about `region`."""
    return {
        "Environment": ctx.env.suffix,
        "Region": region,
        "Observer": ctx.env.failover.observer_region,
    }


def add_observer(template: Template, ctx: StackContext) -> ObserverRefs:
    keys = add_keys(template, ctx)
    name = ctx.name("observer")
    log_group = add_log_group(
        template, ctx, "ObserverFunctionLogGroup", f"/aws/lambda/{name}", keys.logs_key_arn
    )
    role = _add_role(template, ctx, log_group)
    function = _add_function(template, ctx, keys, role, log_group)
    refs = FunctionRefs(
        name=Ref(function),
        arn=GetAtt(function, "Arn"),
        role_arn=GetAtt(role, "Arn"),
        log_group_name=Ref(log_group),
    )
    add_schedule(
        template, ctx, "ObserverRule", "rate(1 minute)", ("observer", refs), "{}",
        "probe both regions' liveness from the observer region",
    )  # fmt: skip
    return ObserverRefs(function=refs)


def _add_role(template: Template, ctx: StackContext, log_group: LogGroup) -> Role:
    return template.add_resource(
        Role(
            "ObserverFunctionRole",
            RoleName=ctx.regional_name("observer"),
            AssumeRolePolicyDocument=service_trust("lambda.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="observer-least-privilege",
                    PolicyDocument=document(
                        allow(
                            "WriteOwnLogGroup",
                            (logs.CreateLogStream, logs.PutLogEvents),
                            [GetAtt(log_group, "Arn")],
                        ),
                        unscoped("UploadTraces", (xray.PutTraceSegments, xray.PutTelemetryRecords)),
                        # PutMetricData has no resource type; the namespace condition is
                        # the scope, in every region (the observer writes into two).
                        unscoped(
                            "PublishObservations",
                            (cloudwatch.PutMetricData,),
                            all_of(StringEquals("cloudwatch:namespace", OBSERVER_NAMESPACE)),
                        ),
                    ),
                )
            ],
            Tags=ctx.tags(),
        )
    )


def _add_function(
    template: Template, ctx: StackContext, keys: KeyRefs, role: Role, log_group: LogGroup
) -> Function:
    """Inline code (ZipFile): no artifact bucket is needed in the observer region."""
    name = ctx.name("observer")
    return template.add_resource(
        Function(
            "ObserverFunction",
            FunctionName=name,
            Description="Probe both regions' liveness from a third region, publish to both",
            Runtime=RUNTIME,
            Architectures=[ARCHITECTURE],
            Handler="index.handler",
            Code=Code(ZipFile=observer_source()),
            MemorySize=128,
            Timeout=OBSERVER_TIMEOUT_S,
            # One scheduled run a minute, and one overlapping at most.
            ReservedConcurrentExecutions=2,
            Role=GetAtt(role, "Arn"),
            TracingConfig=TracingConfig(Mode="Active"),
            LoggingConfig=LoggingConfig(LogGroup=Ref(log_group)),
            KmsKeyArn=keys.data_key_arn,
            Environment=Environment(
                Variables={
                    "ENVIRONMENT": ctx.env.suffix,
                    "TARGETS": json.dumps(probed_regions(ctx), sort_keys=True),
                    "NAMESPACE": OBSERVER_NAMESPACE,
                    "PERIOD_S": str(OBSERVER_PERIOD_S),
                    "SAMPLES": str(OBSERVER_SAMPLES),
                }
            ),
            Tags=ctx.tags(),
        )
    )
