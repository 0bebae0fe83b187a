"""REST API of one region: POST /trades (intake), GET /health (health), custom domains.

Regional endpoint, stage `prod` with JSON access logs, throttling and X-Ray, request
validation on POST /trades whose 400 names the failing fields, and two custom domains
(see ApiRefs) on one ACM certificate validated by DNS in the platform's hosted zone.
"""

from __future__ import annotations

import json
from typing import Any

from awacs import logs
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.apigateway import (
    AccessLogSetting,
    Account,
    BasePathMapping,
    Deployment,
    DomainName,
    EndpointConfiguration,
    GatewayResponse,
    Integration,
    Method,
    MethodSetting,
    Model,
    RequestValidator,
    Resource,
    RestApi,
    Stage,
)
from troposphere.awslambda import Permission
from troposphere.certificatemanager import Certificate, DomainValidationOption
from troposphere.iam import Policy, Role

from trading_dr.cfn_template import snapshot_hash, snapshot_members
from trading_dr.policies import allow, document, service_trust, unscoped
from trading_dr.resources.log_groups import add_log_group
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import ApiRefs, AWSHelperFn, FunctionRefs, KeyRefs

STAGE = "prod"
# Steady-state and burst request limits per stage; intake's reserved concurrency is sized
# to absorb the burst.
THROTTLE_RATE = 500
THROTTLE_BURST = 1000
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTimeEpoch",
        "method": "$context.httpMethod",
        "path": "$context.resourcePath",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationError": "$context.integration.error",
        "validationError": "$context.error.validationErrorString",
    },
    sort_keys=True,
)
# Structure only (types, required keys, enums): the intake function owns value rules
# (decimals, UUIDs, timestamps) and names every bad field in its own 400.
TRADE_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-04/schema#",
    "title": "TradeRequest",
    "type": "object",
    "required": [
        "trade_id",
        "account_id",
        "symbol",
        "side",
        "order_type",
        "quantity",
        "client_timestamp",
        "session_token",
    ],
    "properties": {
        "trade_id": {"type": "string"},
        "account_id": {"type": "string"},
        "symbol": {"type": "string"},
        "side": {"type": "string", "enum": ["BUY", "SELL"]},
        "order_type": {"type": "string", "enum": ["MARKET", "LIMIT"]},
        "quantity": {"type": ["string", "number"]},
        "limit_price": {"type": ["string", "number"]},
        "client_timestamp": {"type": "string"},
        "session_token": {"type": "string"},
    },
    "additionalProperties": False,
}


def _lambda_method(
    template: Template,
    logical: str,
    api: RestApi,
    resource: Resource,
    verb: str,
    function: FunctionRefs,
    **extra: object,
) -> Method:
    template.add_resource(
        Permission(
            f"{logical}InvokePermission",
            Action="lambda:InvokeFunction",
            FunctionName=function.arn,
            Principal="apigateway.amazonaws.com",
            SourceArn=Sub(
                f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:"
                f"${{Api}}/*/{verb}/{resource.PathPart}",
                Api=Ref(api),
            ),
        )
    )
    return template.add_resource(
        Method(
            logical,
            RestApiId=Ref(api),
            ResourceId=Ref(resource),
            HttpMethod=verb,
            # Callers are authenticated by their session token in the body (checked by
            # intake); /health must be open to Route 53's checkers.
            AuthorizationType="NONE",
            Integration=Integration(
                Type="AWS_PROXY",
                IntegrationHttpMethod="POST",
                Uri=Sub(
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/"
                    "2015-03-31/functions/${Arn}/invocations",
                    Arn=function.arn,
                ),
            ),
            **extra,
        )
    )


def _cloudwatch_account_role(template: Template, ctx: StackContext) -> None:
    """API Gateway writes access logs only once the region's account setting names a role."""
    log_groups = Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")
    role = template.add_resource(
        Role(
            "ApiGatewayLogsRole",
            RoleName=ctx.regional_name("apigw-logs"),
            AssumeRolePolicyDocument=service_trust("apigateway.amazonaws.com"),
            Policies=[
                Policy(
                    PolicyName="push-api-logs",
                    PolicyDocument=document(
                        allow(
                            "WriteApiLogs",
                            (
                                logs.CreateLogGroup,
                                logs.CreateLogStream,
                                logs.DescribeLogStreams,
                                logs.PutLogEvents,
                            ),
                            [log_groups],
                        ),
                        unscoped("FindApiLogGroups", (logs.DescribeLogGroups,)),
                    ),
                )
            ],
            Tags=ctx.tags(),
        )
    )
    template.add_resource(Account("ApiGatewayAccount", CloudWatchRoleArn=GetAtt(role, "Arn")))


def _domain(
    template: Template, logical: str, name: str, certificate: Certificate, api: RestApi,
    stage: Stage, ctx: StackContext,
) -> DomainName:  # fmt: skip
    domain = template.add_resource(
        DomainName(
            logical,
            DomainName=name,
            RegionalCertificateArn=Ref(certificate),
            EndpointConfiguration=EndpointConfiguration(Types=["REGIONAL"]),
            SecurityPolicy="TLS_1_2",
            Tags=ctx.tags(),
        )
    )
    template.add_resource(
        BasePathMapping(
            f"{logical}Mapping",
            DomainName=Ref(domain),
            RestApiId=Ref(api),
            Stage=Ref(stage),
        )
    )
    return domain


def add_api(
    template: Template,
    ctx: StackContext,
    keys: KeyRefs,
    hosted_zone_id: AWSHelperFn,
    intake: FunctionRefs,
    health: FunctionRefs,
) -> ApiRefs:
    """The regional REST API (POST /trades, GET /health), its stage and custom domains."""
    api = _add_rest_api(template, ctx)
    _add_routes(template, api, intake, health)
    stage = _add_stage(template, ctx, keys, api)
    certificate = _add_certificate(template, ctx, hosted_zone_id)
    failover = _domain(template, "FailoverDomain", ctx.failover_domain, certificate, api, stage,
                       ctx)  # fmt: skip
    regional = _domain(template, "RegionalDomain", ctx.regional_domain, certificate, api, stage,
                       ctx)  # fmt: skip
    return ApiRefs(
        rest_api_id=Ref(api),
        stage_name=STAGE,
        failover_domain=ctx.failover_domain,
        regional_domain=ctx.regional_domain,
        failover_target_dns=GetAtt(failover, "RegionalDomainName"),
        failover_target_zone_id=GetAtt(failover, "RegionalHostedZoneId"),
        regional_target_dns=GetAtt(regional, "RegionalDomainName"),
        regional_target_zone_id=GetAtt(regional, "RegionalHostedZoneId"),
    )


def _add_rest_api(template: Template, ctx: StackContext) -> RestApi:
    return template.add_resource(
        RestApi(
            "TradingApi",
            Name=ctx.name("api"),
            Description=f"trading-dr {ctx.env.suffix} trade intake and health ({ctx.region})",
            EndpointConfiguration=EndpointConfiguration(Types=["REGIONAL"]),
            # Clients use the custom domains; the default endpoint bypasses the names
            # that Route 53 fails over.
            DisableExecuteApiEndpoint=True,
            Tags=ctx.tags(),
        )
    )


def _add_routes(
    template: Template, api: RestApi, intake: FunctionRefs, health: FunctionRefs
) -> None:
    """POST /trades (body validated against the trade schema) and GET /health."""
    trades = template.add_resource(
        Resource("TradesResource", RestApiId=Ref(api), ParentId=GetAtt(api, "RootResourceId"),
                 PathPart="trades")
    )  # fmt: skip
    health_resource = template.add_resource(
        Resource("HealthResource", RestApiId=Ref(api), ParentId=GetAtt(api, "RootResourceId"),
                 PathPart="health")
    )  # fmt: skip
    validator = template.add_resource(
        RequestValidator(
            "TradeRequestValidator",
            RestApiId=Ref(api),
            Name="trade-body",
            ValidateRequestBody=True,
            ValidateRequestParameters=False,
        )
    )
    model = template.add_resource(
        Model(
            "TradeRequestModel",
            RestApiId=Ref(api),
            Name="TradeRequest",
            ContentType="application/json",
            Schema=TRADE_REQUEST_SCHEMA,
        )
    )
    template.add_resource(
        GatewayResponse(
            "BadRequestBodyResponse",
            RestApiId=Ref(api),
            ResponseType="BAD_REQUEST_BODY",
            StatusCode="400",
            ResponseTemplates={
                "application/json": '{"error": "invalid request body", '
                '"details": "$context.error.validationErrorString"}'
            },
        )
    )
    _lambda_method(
        template, "PostTradesMethod", api, trades, "POST", intake,
        RequestValidatorId=Ref(validator),
        RequestModels={"application/json": Ref(model)},
    )  # fmt: skip
    _lambda_method(template, "GetHealthMethod", api, health_resource, "GET", health)


def _add_stage(template: Template, ctx: StackContext, keys: KeyRefs, api: RestApi) -> Stage:
    _cloudwatch_account_role(template, ctx)
    access_logs = add_log_group(
        template, ctx, "ApiAccessLogGroup", f"/trading/{ctx.env.suffix}/api-access",
        keys.logs_key_arn,
    )  # fmt: skip
    # A Deployment is a snapshot taken when it is created, and CloudFormation never
    # re-snapshots an existing one: named by the content hash of everything it snapshots
    # (resources, methods, model, validator, gateway response), any change to them creates
    # a new Deployment that the stage moves to; DependsOn all of them so none is created
    # after the snapshot (rules pack E9006).
    members = snapshot_members(
        {"Resources": {name: r.to_dict() for name, r in template.resources.items()}}, api.title
    )
    deployment = template.add_resource(
        Deployment(
            f"TradingApiDeployment{snapshot_hash(members)}",
            RestApiId=Ref(api),
            Description="methods of the trading API",
            DependsOn=sorted(members),
        )
    )
    return template.add_resource(
        Stage(
            "TradingApiStage",
            RestApiId=Ref(api),
            StageName=STAGE,
            DeploymentId=Ref(deployment),
            TracingEnabled=True,
            AccessLogSetting=AccessLogSetting(
                DestinationArn=GetAtt(access_logs, "Arn"), Format=ACCESS_LOG_FORMAT
            ),
            MethodSettings=[
                MethodSetting(
                    HttpMethod="*",
                    ResourcePath="/*",
                    ThrottlingRateLimit=THROTTLE_RATE,
                    ThrottlingBurstLimit=THROTTLE_BURST,
                    MetricsEnabled=True,
                    LoggingLevel="ERROR",
                    DataTraceEnabled=False,  # bodies hold session tokens
                )
            ],
            Tags=ctx.tags(),
            DependsOn="ApiGatewayAccount",
        )
    )


def _add_certificate(
    template: Template, ctx: StackContext, hosted_zone_id: AWSHelperFn
) -> Certificate:
    return template.add_resource(
        Certificate(
            "ApiCertificate",
            DomainName=ctx.failover_domain,
            SubjectAlternativeNames=[ctx.regional_domain],
            ValidationMethod="DNS",
            DomainValidationOptions=[
                DomainValidationOption(DomainName=name, HostedZoneId=hosted_zone_id)
                for name in (ctx.failover_domain, ctx.regional_domain)
            ],
            Tags=ctx.tags(),
        )
    )
