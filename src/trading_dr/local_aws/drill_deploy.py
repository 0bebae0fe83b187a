"""What a failover drill needs of the rendered templates, deployed into an in-process moto.

- the global cluster, one member per region (global_failover.py adds Aurora's
  FailoverGlobalCluster/SwitchoverGlobalCluster to moto);
- in each regional stack: the alarm topic (an SQS queue subscribed to read what pages),
  the validator (its real code, lambda_src/validator, in-process: moto runs no Lambda
  code) with the environment the template gives it, the failover state machine built from
  the template's definition and substitutions, and the EventBridge rules matching alarm
  state changes;
- every alarm the failover path reads (those in composite rules and alarm-based health
  checks); drill_route53.py reads the health checks and failover records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import boto3

from trading_dr.config import Environment, Role
from trading_dr.local_aws import alarm_rule
from trading_dr.local_aws.alarm_eval import INSUFFICIENT_DATA, MetricAlarm
from trading_dr.local_aws.drill_model import (
    HOSTED_ZONE_ID,
    Composite,
    DrillError,
    Stack,
    check_id,
)
from trading_dr.local_aws.event_patterns import alarm_arn
from trading_dr.local_aws.global_failover import ACCOUNT
from trading_dr.local_aws.intrinsics import Resolver
from trading_dr.resources.failover.asl import definition_of, substitute


class ReplicatedTables:
    """DynamoDB as a global table shows itself: moto 5.2 has no replicas at all, so
    DescribeTable of a table the global template declares lists its replicas (ACTIVE),
    as AWS does for a global table version 2019.11.21."""

    def __init__(self, client: Any, replicas: Mapping[str, list[str]], region: str) -> None:
        self._client, self._replicas, self._region = client, replicas, region

    def describe_table(self, **kwargs: Any) -> Any:
        answer = self._client.describe_table(**kwargs)
        regions = self._replicas.get(kwargs["TableName"], [])
        answer["Table"]["Replicas"] = [
            {"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in regions if r != self._region
        ]
        return answer


class Deployment:
    """Deploys one environment's templates into the moto that is active."""

    def __init__(
        self,
        env: Environment,
        templates: Mapping[Role, dict[str, Any]],
        global_id: str,
        validator_logic: ModuleType,
    ) -> None:
        self.env, self.templates = env, templates
        self.global_id, self.validator_logic = global_id, validator_logic

    # -- the global cluster ----------------------------------------------------------------
    def create_cluster(self, role: Role) -> None:
        region = self.env.region_of(role)
        rds = boto3.client("rds", region)
        props = self.templates[role]["Resources"]["DbCluster"]["Properties"]
        version = {"EngineVersion": props["EngineVersion"]} if "EngineVersion" in props else {}
        if role is Role.PRIMARY:
            rds.create_global_cluster(
                GlobalClusterIdentifier=self.global_id, Engine="aurora-postgresql", **version
            )
        cluster_id = props["DBClusterIdentifier"]
        extra: dict[str, Any] = (
            {"MasterUsername": "trading_admin", "MasterUserPassword": "not-a-real-password"}
            if role is Role.PRIMARY
            else {}
        )
        rds.create_db_cluster(
            DBClusterIdentifier=cluster_id,
            Engine="aurora-postgresql",
            GlobalClusterIdentifier=self.global_id,
            **version,
            **extra,
        )

    # -- one regional stack ----------------------------------------------------------------
    def stack(self, role: Role) -> Stack:
        region, template = self.env.region_of(role), self.templates[role]
        peer = self.env.region_of(Role.SECONDARY if role is Role.PRIMARY else Role.PRIMARY)
        res = template["Resources"]
        cluster_id = res["DbCluster"]["Properties"]["DBClusterIdentifier"]
        rds = boto3.client("rds", region)
        cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        topic, queue_url = _alarm_topic(region, res)
        role_arn, validator_arn = _validator_function(region, res)
        machine_name = res["FailoverStateMachine"]["Properties"]["StateMachineName"]
        machine_arn = f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:{machine_name}"
        resolve = self._resolver(
            region,
            peer,
            template,
            refs={
                "DbCluster": cluster_id,
                "AlarmTopic": topic,
                "FailoverStateMachine": machine_arn,
            },
            attributes={
                ("DbCluster", "DBClusterArn"): cluster["DBClusterArn"],
                ("ValidatorFunction", "Arn"): validator_arn,
                ("FailoverTriggerRole", "Arn"): role_arn,
            },
        )
        _state_machine(region, res, resolve, role_arn, machine_arn)
        settings, clients = self._validator_runtime(region, res, resolve, rds, cluster)
        stack = Stack(
            role=role,
            region=region,
            peer=peer,
            template=template,
            resolve=resolve,
            cluster_id=cluster_id,
            cluster_arn=cluster["DBClusterArn"],
            topic_arn=topic,
            queue_url=queue_url,
            machine_arn=machine_arn,
            validator_arn=validator_arn,
            settings=settings,
            clients=clients,
        )
        self._alarms(stack)
        _rules(stack)
        return stack

    def _resolver(
        self,
        region: str,
        peer: str,
        template: dict[str, Any],
        refs: Mapping[str, str],
        attributes: Mapping[tuple[str, str], str],
    ) -> Resolver:
        """The template's Refs and GetAtts as the drill deployed them."""
        res = template["Resources"]
        alarm_attrs = {
            (logical, "Arn"): alarm_arn(ACCOUNT, region, r["Properties"]["AlarmName"])
            for logical, r in res.items()
            if r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
        }
        return Resolver(
            refs={
                "AWS::Region": region,
                "AWS::AccountId": ACCOUNT,
                "AWS::Partition": "aws",
                "GlobalClusterIdentifier": self.global_id,
                **refs,
                "HostedZoneId": HOSTED_ZONE_ID,
                "SessionsTableName": self._table_name("SessionsTable"),
                "ConfigBucket": f"drill-config-{region}",
                "AuditBucket": f"drill-audit-{region}",
                "PeerConfigBucketArn": f"arn:aws:s3:::drill-config-{peer}",
                "PeerFenceHealthCheckId": check_id(peer, "FenceHealthCheck"),
                **{
                    logical: check_id(region, logical)
                    for logical, r in res.items()
                    if r["Type"] == "AWS::Route53::HealthCheck"
                },
            },
            attributes={
                **alarm_attrs,
                **attributes,
                (
                    "FailoverDomain",
                    "RegionalDomainName",
                ): f"d-drill.execute-api.{region}.amazonaws.com",
            },
            conditions=template.get("Conditions", {}),
        )

    def _validator_runtime(
        self,
        region: str,
        res: Mapping[str, Any],
        resolve: Resolver,
        rds: Any,
        cluster: Mapping[str, Any],
    ) -> tuple[Any, Any]:
        """The validator's settings (from the environment the template gives it) and
        clients, with the table and the parameters it reads."""
        environ = {
            **resolve(res["ValidatorFunction"]["Properties"]["Environment"]["Variables"]),
            "AWS_REGION": region,
        }
        settings = self.validator_logic.Settings.from_environ(environ)
        clients = self.validator_logic.Clients(
            rds=rds,
            cloudwatch=boto3.client("cloudwatch", region),
            dynamodb=ReplicatedTables(boto3.client("dynamodb", region), self._replicas(), region),
            s3=boto3.client("s3", region),
            route53=boto3.client("route53"),
            ssm=boto3.client("ssm", region),
        )
        _create_table(region, settings.sessions_table)
        ssm = boto3.client("ssm", region)
        for name, value in (
            ("db-endpoint", cluster["Endpoint"]),
            ("health-check-id", settings.health_check_id),
        ):
            ssm.put_parameter(Name=settings.ssm_prefix + name, Value=value, Type="String")
        return settings, clients

    def _table_name(self, logical: str) -> str:
        name: str = self.templates[Role.GLOBAL]["Resources"][logical]["Properties"]["TableName"]
        return name

    def _replicas(self) -> dict[str, list[str]]:
        return {
            r["Properties"]["TableName"]: [x["Region"] for x in r["Properties"]["Replicas"]]
            for r in self.templates[Role.GLOBAL]["Resources"].values()
            if r["Type"] == "AWS::DynamoDB::GlobalTable"
        }

    def _alarms(self, stack: Stack) -> None:
        """The composites, and every metric alarm a composite or a health check reads."""
        by_name = {
            r["Properties"]["AlarmName"]: r["Properties"]
            for _, r in stack.resources("AWS::CloudWatch::Alarm")
        }
        wanted: set[str] = set()
        for _, resource in stack.resources("AWS::CloudWatch::CompositeAlarm"):
            props = stack.resolve(resource["Properties"])
            rule = alarm_rule.parse(props["AlarmRule"])
            stack.composites[props["AlarmName"]] = Composite(props["AlarmName"], rule, props)
            wanted |= alarm_rule.referenced(rule)
        for role in (Role.PRIMARY, Role.SECONDARY):
            for resource in self.templates[role]["Resources"].values():
                config = resource.get("Properties", {}).get("HealthCheckConfig", {})
                identifier = config.get("AlarmIdentifier")
                if identifier and identifier["Region"] == stack.region:
                    wanted.add(identifier["Name"])
        for name in sorted(wanted):
            plain = name.rsplit(":alarm:", 1)[-1]
            if plain in stack.composites:
                continue
            if plain not in by_name:
                raise DrillError(f"{stack.region}: an alarm rule or check reads {name!r}, absent")
            stack.alarm_props[plain] = stack.resolve(by_name[plain])
            stack.alarms[plain] = MetricAlarm.from_properties(stack.alarm_props[plain])
        for name in [*stack.alarms, *stack.composites]:
            stack.states[name] = INSUFFICIENT_DATA

    # -- the observer ----------------------------------------------------------------------
    def observer_settings(self) -> dict[str, str]:
        for resource in self.templates[Role.OBSERVER]["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                variables: dict[str, str] = resource["Properties"]["Environment"]["Variables"]
                return {**variables, "AWS_REGION": self.env.region_of(Role.OBSERVER)}
        raise DrillError("the observer template has no function")


def _alarm_topic(region: str, res: Mapping[str, Any]) -> tuple[str, str]:
    """The alarm topic, and the SQS queue subscribed to it to read what pages."""
    sns, sqs = boto3.client("sns", region), boto3.client("sqs", region)
    topic: str = sns.create_topic(Name=res["AlarmTopic"]["Properties"]["TopicName"])["TopicArn"]
    queue_url: str = sqs.create_queue(QueueName=f"drill-pages-{region}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return topic, queue_url


def _validator_function(region: str, res: Mapping[str, Any]) -> tuple[str, str]:
    """The workflow's role and the validator function (its code runs in-process)."""
    iam = boto3.client("iam")
    role_arn: str = iam.create_role(
        RoleName=f"drill-failover-{region}", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    function = res["ValidatorFunction"]["Properties"]
    validator_arn: str = boto3.client("lambda", region).create_function(
        FunctionName=function["FunctionName"],
        Runtime="python3.12",
        Role=role_arn,
        Handler=function["Handler"],
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )["FunctionArn"]
    return role_arn, validator_arn


def _state_machine(
    region: str, res: Mapping[str, Any], resolve: Resolver, role_arn: str, machine_arn: str
) -> None:
    """The failover state machine from the template's definition and substitutions."""
    machine = res["FailoverStateMachine"]["Properties"]
    definition = substitute(definition_of(machine), resolve(machine["DefinitionSubstitutions"]))
    created = boto3.client("stepfunctions", region).create_state_machine(
        name=machine["StateMachineName"], definition=json.dumps(definition), roleArn=role_arn
    )["stateMachineArn"]
    if created != machine_arn:  # pragma: no cover - moto's ARN format is AWS's
        raise DrillError(f"state machine ARN {created}, expected {machine_arn}")


def _create_table(region: str, name: str) -> None:
    boto3.client("dynamodb", region).create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _rules(stack: Stack) -> None:
    for _, rule in stack.resources("AWS::Events::Rule"):
        props = rule["Properties"]
        # The rules that alarm state changes can match (others need their targets).
        if "aws.cloudwatch" in props.get("EventPattern", {}).get("source", []):
            stack.rules.append(stack.resolve(props))
