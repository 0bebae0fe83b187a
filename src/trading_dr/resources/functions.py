"""Lambda functions: one `add_function` for all of them, props in, refs out.

Every function runs in the private subnets with the Lambda security group (but for the
readiness validator, see FunctionSpec.in_vpc), on arm64 and
python3.12, with X-Ray tracing, a reserved concurrency, its own KMS-encrypted log group
with retention, environment variables encrypted with the data key, and its own role.
Code comes from the region's artifact bucket under a content-addressed key, so a new
zip is a new key and CloudFormation updates exactly the functions whose code changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from awacs import ec2, logs, xray
from awacs.aws import Statement
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.awslambda import (
    Code,
    Environment,
    Function,
    LoggingConfig,
    Permission,
    TracingConfig,
    VPCConfig,
)
from troposphere.events import Rule, Target
from troposphere.iam import Policy, Role
from troposphere.logs import LogGroup

from trading_dr.policies import allow, document, service_trust, unscoped
from trading_dr.resources.log_groups import add_log_group
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import AWSHelperFn, FunctionRefs, KeyRefs, NetworkRefs

RUNTIME = "python3.12"
ARCHITECTURE = "arm64"  # Graviton: lower price per ms; the zips are pure Python


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between functions; everything else is the same for all of them."""

    name: str  # short name: intake, processor, ...
    handler: str  # module.function inside the zip
    description: str
    memory_mb: int
    timeout_s: int
    reserved_concurrency: int
    environment: Mapping[str, AWSHelperFn | str] = field(default_factory=dict)
    # Grants beyond logs, VPC networking and X-Ray, which every function gets.
    statements: Sequence[Statement] = ()
    # In the private subnets unless it touches no private resource and must reach public
    # APIs the VPC has no endpoint for (Route 53, the peer region's /health).
    in_vpc: bool = True


@dataclass(frozen=True)
class Artifacts:
    """Where the Lambda zips are: the region's artifact bucket and each zip's key."""

    bucket: AWSHelperFn
    keys: Mapping[str, str]

    def code(self, name: str) -> Code:
        if name not in self.keys:
            raise KeyError(f"no package built for function '{name}'")
        return Code(S3Bucket=self.bucket, S3Key=self.keys[name])


def _logical(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-")) + "Function"


def _vpc_networking(network: NetworkRefs) -> list[Statement]:
    """What AWSLambdaVPCAccessExecutionRole grants, scoped: ENIs of this account and region,
    in our own subnets and security group; only the Describe call needs Resource "*"."""
    interfaces = Sub(
        "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:network-interface/*"
    )
    subnets = [
        Sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:subnet/${Id}", Id=subnet)
        for subnet in network.private_subnet_ids
    ]
    group = Sub(
        "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:security-group/${Id}",
        Id=network.lambda_sg_id,
    )
    return [
        allow(
            "CreateVpcNetworkInterfaces",
            (ec2.CreateNetworkInterface,),
            [interfaces, *subnets, group],
        ),
        allow(
            "ManageVpcNetworkInterfaces",
            (
                ec2.DeleteNetworkInterface,
                ec2.AssignPrivateIpAddresses,
                ec2.UnassignPrivateIpAddresses,
            ),
            [interfaces],
        ),
        unscoped("DescribeVpcNetworkInterfaces", (ec2.DescribeNetworkInterfaces,)),
    ]


def _tracing() -> Statement:
    return unscoped("UploadTraces", (xray.PutTraceSegments, xray.PutTelemetryRecords))


def add_function(
    template: Template,
    ctx: StackContext,
    spec: FunctionSpec,
    network: NetworkRefs,
    keys: KeyRefs,
    artifacts: Artifacts,
) -> FunctionRefs:
    logical = _logical(spec.name)
    function_name = ctx.name(spec.name)
    log_group = add_log_group(
        template, ctx, f"{logical}LogGroup", f"/aws/lambda/{function_name}", keys.logs_key_arn
    )
    role = _add_role(template, ctx, spec, network, log_group)
    placement = {}
    if spec.in_vpc:
        placement["VpcConfig"] = VPCConfig(
            SubnetIds=list(network.private_subnet_ids),
            SecurityGroupIds=[network.lambda_sg_id],
        )
    function = template.add_resource(
        Function(
            logical,
            FunctionName=function_name,
            Description=spec.description,
            Runtime=RUNTIME,
            Architectures=[ARCHITECTURE],
            Handler=spec.handler,
            Code=artifacts.code(spec.name),
            MemorySize=spec.memory_mb,
            Timeout=spec.timeout_s,
            ReservedConcurrentExecutions=spec.reserved_concurrency,
            Role=GetAtt(role, "Arn"),
            TracingConfig=TracingConfig(Mode="Active"),
            LoggingConfig=LoggingConfig(LogGroup=Ref(log_group)),
            KmsKeyArn=keys.data_key_arn,
            Environment=Environment(
                Variables={
                    "POWERTOOLS_SERVICE_NAME": spec.name,
                    "POWERTOOLS_METRICS_NAMESPACE": "TradingDR",
                    **spec.environment,
                }
            ),
            Tags=ctx.tags(),
            **placement,
        )
    )
    return FunctionRefs(
        name=Ref(function),
        arn=GetAtt(function, "Arn"),
        role_arn=GetAtt(role, "Arn"),
        log_group_name=Ref(log_group),
    )


def _add_role(
    template: Template,
    ctx: StackContext,
    spec: FunctionSpec,
    network: NetworkRefs,
    log_group: LogGroup,
) -> Role:
    """The function's own role: its log group, networking if in the VPC, tracing, and
    exactly the spec's statements."""
    return template.add_resource(
        Role(
            f"{_logical(spec.name)}Role",
            RoleName=ctx.regional_name(spec.name),
            AssumeRolePolicyDocument=service_trust("lambda.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName=f"{spec.name}-least-privilege",
                    PolicyDocument=document(
                        allow(
                            "WriteOwnLogGroup",
                            (logs.CreateLogStream, logs.PutLogEvents),
                            [GetAtt(log_group, "Arn")],
                        ),
                        *(_vpc_networking(network) if spec.in_vpc else []),
                        _tracing(),
                        *spec.statements,
                    ),
                )
            ],
            Tags=ctx.tags(),
        )
    )


def add_schedule(
    template: Template,
    ctx: StackContext,
    logical: str,
    schedule: str,
    target: tuple[str, FunctionRefs],
    payload: str,
    what: str,
) -> Rule:
    """An EventBridge schedule invoking the `target` function (its short name, its refs)
    with `payload`, and the permission that lets exactly this rule invoke it."""
    target_id, function = target
    rule = template.add_resource(
        Rule(
            logical,
            Name=ctx.name(logical.removesuffix("Rule").lower()),
            Description=f"trading-dr {ctx.env.suffix}: {what}",
            ScheduleExpression=schedule,
            State="ENABLED",
            Targets=[Target(Id=target_id, Arn=function.arn, Input=payload)],
        )
    )
    template.add_resource(
        Permission(
            f"{logical}InvokePermission",
            Action="lambda:InvokeFunction",
            FunctionName=function.arn,
            Principal="events.amazonaws.com",
            SourceArn=GetAtt(rule, "Arn"),
        )
    )
    return rule
