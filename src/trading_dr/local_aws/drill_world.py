"""The local AWS of a failover drill: both regions and the observer, on simulated time.

`DrillWorld` deploys, into an in-process moto (`mock_aws`), what a drill needs of the
rendered templates of one environment and then runs AWS's own machinery, one 10 s step of
simulated time (clock.py) at a time:

- the global cluster, one member per region (global_failover.py adds Aurora's
  FailoverGlobalCluster/SwitchoverGlobalCluster to moto); RDS's
  `AuroraGlobalDBReplicationLag` published every minute for the member that is not the
  writer (`lag_ms`);
- in each regional stack: the alarm topic (an SQS queue subscribed to read what pages),
  the validator (its real code, lambda_src/validator, in-process: moto runs no Lambda
  code) with the environment the template gives it, the failover state machine built from
  the template's definition and substitutions, and the EventBridge rules matching alarm
  state changes;
- every step: the validator's probe sample from each region that is up (its per-minute
  run samples every 10 s) and, each minute, its republishing of the fence; the observer's
  sample (lambda_src/observer, real code) into both regions' CloudWatch; Route 53's
  endpoint checkers; then every alarm the failover path reads (those in composite rules
  and alarm-based health checks) evaluated from the metric data (alarm_eval.py), the
  composites (alarm_rule.py), each state change sent to EventBridge (event_patterns.py:
  a match starts the rule's target, the state machine, with the rule's input) and to the
  alarm's SNS actions; then the health checks and the failover answer for the API name
  (route53_health.py), computed from the records and checks of both templates.

Nothing reads or sets an alarm's state to decide routing: the health checks read data.

The network is a model: a region is up or down (`down`), a link from one vantage point to a
region can be cut (`cut`); an endpoint answers `/health` (and `/health?probe=liveness`) 200
while its region is up, in either database role, as lambda_src/health does: a region can
accept trades before it is the writer, so only the fence keeps DNS off an old primary.
Down regions run nothing, and every AWS call addressed to one (by the drill's actors or by
the workflow's own tasks) fails to connect and is recorded in `refused`: what acts during
an outage must use only the regions that are up.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.cloudwatch import models as cloudwatch_models
from moto.cloudwatch.models import cloudwatch_backends

from trading_dr.config import Environment, Role
from trading_dr.local_aws import alarm_rule
from trading_dr.local_aws.alarm_eval import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    MetricAlarm,
    evaluate,
)
from trading_dr.local_aws.clock import SimClock, offset_label
from trading_dr.local_aws.event_patterns import alarm_arn, alarm_state_change, matches
from trading_dr.local_aws.global_failover import ACCOUNT, FailoverControl, local_failover
from trading_dr.local_aws.intrinsics import Resolver
from trading_dr.local_aws.route53_health import (
    AlarmCheck,
    CalculatedCheck,
    EndpointCheck,
    FailoverAnswer,
    FailoverRecord,
    failover_answer,
)
from trading_dr.resources.failover.asl import substitute

STEP_S = 10
LAMBDA_SRC = Path(__file__).resolve().parents[3] / "lambda_src"
HOSTED_ZONE_ID = "Z0DRILLZONE"
DEFAULT_LAG_MS = 2_000.0
MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}
RUN_TIMEOUT_S = 60.0  # wall time: a run that takes longer is stuck, not slow


class DrillError(RuntimeError):
    pass


def _load(name: str, path: Path) -> ModuleType:
    """A Lambda source file as a module of its own (each function is its own zip root)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - the file is in the repo
        raise DrillError(f"cannot load {path}")
    if name in sys.modules:
        return sys.modules[name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Entry:
    offset_s: float
    where: str
    what: str

    def line(self) -> str:
        return f"{offset_label(self.offset_s)}  {self.where:<10} {self.what}"

    def as_json(self) -> dict[str, Any]:
        return {"offset_s": self.offset_s, "where": self.where, "what": self.what}


@dataclass
class Page:
    offset_s: float
    region: str
    subject: str
    message: str


@dataclass
class Run:
    region: str
    arn: str
    mode: str
    trigger: str
    started_s: float = 0.0  # the drill's offset when it started
    status: str = "RUNNING"
    outcome: str = ""
    error: str = ""
    cause: str = ""


@dataclass
class Composite:
    name: str
    rule: alarm_rule.Expr
    props: dict[str, Any]


@dataclass
class Stack:
    """One regional stack as the drill deployed it."""

    role: Role
    region: str
    peer: str
    template: dict[str, Any]
    resolve: Resolver
    cluster_id: str
    cluster_arn: str
    topic_arn: str
    queue_url: str
    machine_arn: str
    validator_arn: str
    settings: Any  # validator_logic.Settings
    clients: Any  # validator_logic.Clients
    alarms: dict[str, MetricAlarm] = field(default_factory=dict)
    alarm_props: dict[str, dict[str, Any]] = field(default_factory=dict)
    composites: dict[str, Composite] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)

    def resources(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical, resource in self.template["Resources"].items():
            if resource["Type"] == kind:
                yield logical, resource


class _ReplicatedTables:
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


class DrillWorld:
    def __init__(
        self,
        env: Environment,
        templates: Mapping[Role, dict[str, Any]],
        clock: SimClock,
        control: FailoverControl,
    ) -> None:
        self.env, self.templates, self.clock, self.control = env, templates, clock, control
        self.validator_logic = _load(
            "drill_validator_logic", LAMBDA_SRC / "validator" / "validator_logic.py"
        )
        self.observer_probe = _load(
            "drill_observer_probe", LAMBDA_SRC / "observer" / "observer_probe.py"
        )
        self.down: set[str] = set()
        self.cut: set[tuple[str, str]] = set()
        self.lag_ms = DEFAULT_LAG_MS
        self.timeline: list[Entry] = []
        self.pages: list[Page] = []
        self.runs: list[Run] = []
        self.answers: list[tuple[float, FailoverAnswer]] = []
        # (offset, region, "service.Operation"): calls addressed to a region that was down.
        self.refused: list[tuple[float, str, str]] = []
        self.health_history: dict[str, list[tuple[float, bool]]] = {}
        self._t0 = 0.0
        self._recording = False
        self._readiness_gate: threading.Event | None = None
        self._readiness_reached = threading.Event()
        self.global_id = f"trading-{env.suffix}-global"
        self.stacks: dict[str, Stack] = {}
        for role in (Role.PRIMARY, Role.SECONDARY):
            self._create_cluster(role)
        for role in (Role.PRIMARY, Role.SECONDARY):
            stack = self._deploy(role)
            self.stacks[stack.region] = stack
        self._observer = self._observer_settings()
        self._checks()

    # -- deployment -------------------------------------------------------------------------
    def _create_cluster(self, role: Role) -> None:
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

    def _deploy(self, role: Role) -> Stack:
        region, template = self.env.region_of(role), self.templates[role]
        peer = self.env.region_of(Role.SECONDARY if role is Role.PRIMARY else Role.PRIMARY)
        res = template["Resources"]
        cluster_id = res["DbCluster"]["Properties"]["DBClusterIdentifier"]
        rds = boto3.client("rds", region)
        cluster = rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        sns, sqs = boto3.client("sns", region), boto3.client("sqs", region)
        topic = sns.create_topic(Name=res["AlarmTopic"]["Properties"]["TopicName"])["TopicArn"]
        queue_url = sqs.create_queue(QueueName=f"drill-pages-{region}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        iam = boto3.client("iam")
        role_arn = iam.create_role(
            RoleName=f"drill-failover-{region}", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        function = res["ValidatorFunction"]["Properties"]
        validator_arn = boto3.client("lambda", region).create_function(
            FunctionName=function["FunctionName"],
            Runtime="python3.12",
            Role=role_arn,
            Handler=function["Handler"],
            Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
        )["FunctionArn"]
        machine_name = res["FailoverStateMachine"]["Properties"]["StateMachineName"]
        machine_arn = f"arn:aws:states:{region}:{ACCOUNT}:stateMachine:{machine_name}"
        alarm_attrs = {
            (logical, "Arn"): alarm_arn(ACCOUNT, region, r["Properties"]["AlarmName"])
            for logical, r in res.items()
            if r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
        }
        resolve = Resolver(
            refs={
                "AWS::Region": region,
                "AWS::AccountId": ACCOUNT,
                "AWS::Partition": "aws",
                "GlobalClusterIdentifier": self.global_id,
                "DbCluster": cluster_id,
                "AlarmTopic": topic,
                "FailoverStateMachine": machine_arn,
                "HostedZoneId": HOSTED_ZONE_ID,
                "SessionsTableName": self._table_name("SessionsTable"),
                "ConfigBucket": f"drill-config-{region}",
                "AuditBucket": f"drill-audit-{region}",
                "PeerConfigBucketArn": f"arn:aws:s3:::drill-config-{peer}",
                "PeerFenceHealthCheckId": _check_id(peer, "FenceHealthCheck"),
                **{
                    logical: _check_id(region, logical)
                    for logical, r in res.items()
                    if r["Type"] == "AWS::Route53::HealthCheck"
                },
            },
            attributes={
                **alarm_attrs,
                ("DbCluster", "DBClusterArn"): cluster["DBClusterArn"],
                ("ValidatorFunction", "Arn"): validator_arn,
                ("FailoverTriggerRole", "Arn"): role_arn,
                (
                    "FailoverDomain",
                    "RegionalDomainName",
                ): f"d-drill.execute-api.{region}.amazonaws.com",
            },
            conditions=template.get("Conditions", {}),
        )
        machine = res["FailoverStateMachine"]["Properties"]
        definition = substitute(machine["Definition"], resolve(machine["DefinitionSubstitutions"]))
        created = boto3.client("stepfunctions", region).create_state_machine(
            name=machine_name, definition=json.dumps(definition), roleArn=role_arn
        )["stateMachineArn"]
        if created != machine_arn:  # pragma: no cover - moto's ARN format is AWS's
            raise DrillError(f"state machine ARN {created}, expected {machine_arn}")
        environ = {
            **resolve(function["Environment"]["Variables"]),
            "AWS_REGION": region,
        }
        settings = self.validator_logic.Settings.from_environ(environ)
        clients = self.validator_logic.Clients(
            rds=rds,
            cloudwatch=boto3.client("cloudwatch", region),
            dynamodb=_ReplicatedTables(boto3.client("dynamodb", region), self._replicas(), region),
            s3=boto3.client("s3", region),
            route53=boto3.client("route53"),
            ssm=boto3.client("ssm", region),
        )
        self._create_table(region, settings.sessions_table)
        ssm = boto3.client("ssm", region)
        for name, value in (
            ("db-endpoint", cluster["Endpoint"]),
            ("health-check-id", settings.health_check_id),
        ):
            ssm.put_parameter(Name=settings.ssm_prefix + name, Value=value, Type="String")
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
        for _, rule in stack.resources("AWS::Events::Rule"):
            props = rule["Properties"]
            # The rules that alarm state changes can match (others need their targets).
            if "aws.cloudwatch" in props.get("EventPattern", {}).get("source", []):
                stack.rules.append(resolve(props))
        return stack

    def _table_name(self, logical: str) -> str:
        name: str = self.templates[Role.GLOBAL]["Resources"][logical]["Properties"]["TableName"]
        return name

    def _replicas(self) -> dict[str, list[str]]:
        return {
            r["Properties"]["TableName"]: [x["Region"] for x in r["Properties"]["Replicas"]]
            for r in self.templates[Role.GLOBAL]["Resources"].values()
            if r["Type"] == "AWS::DynamoDB::GlobalTable"
        }

    @staticmethod
    def _create_table(region: str, name: str) -> None:
        boto3.client("dynamodb", region).create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

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

    def _observer_settings(self) -> dict[str, str]:
        for resource in self.templates[Role.OBSERVER]["Resources"].values():
            if resource["Type"] == "AWS::Lambda::Function":
                variables: dict[str, str] = resource["Properties"]["Environment"]["Variables"]
                return {**variables, "AWS_REGION": self.env.region_of(Role.OBSERVER)}
        raise DrillError("the observer template has no function")

    def _checks(self) -> None:
        self.endpoint_checks: dict[str, EndpointCheck] = {}
        self.alarm_checks: dict[str, AlarmCheck] = {}
        self.calculated_checks: dict[str, CalculatedCheck] = {}
        self.records: list[FailoverRecord] = []
        self.domains: dict[str, str] = {}
        for stack in self.stacks.values():
            for logical, resource in stack.resources("AWS::Route53::HealthCheck"):
                config = stack.resolve(resource["Properties"]["HealthCheckConfig"])
                check_id = _check_id(stack.region, logical)
                if config["Type"] in ("HTTP", "HTTPS"):
                    self.endpoint_checks[check_id] = EndpointCheck(
                        check_id,
                        config["FullyQualifiedDomainName"],
                        config.get("ResourcePath", "/"),
                        int(config.get("RequestInterval", 30)),
                        int(config.get("FailureThreshold", 3)),
                    )
                    self.domains[config["FullyQualifiedDomainName"]] = stack.region
                elif config["Type"] == "CLOUDWATCH_METRIC":
                    alarm = config["AlarmIdentifier"]
                    owner = self.stacks[alarm["Region"]]
                    self.alarm_checks[check_id] = AlarmCheck(
                        check_id,
                        owner.alarms[alarm["Name"]],
                        alarm["Region"],
                        config.get("InsufficientDataHealthStatus", "LastKnownStatus"),
                    )
                elif config["Type"] == "CALCULATED":
                    self.calculated_checks[check_id] = CalculatedCheck(
                        check_id, tuple(config["ChildHealthChecks"]), int(config["HealthThreshold"])
                    )
                else:
                    raise DrillError(f"health check type {config['Type']} is not emulated")
            for _, resource in stack.resources("AWS::Route53::RecordSet"):
                if "Failover" in resource["Properties"]:
                    props = stack.resolve(resource["Properties"])
                    self.records.append(
                        FailoverRecord(
                            props["Name"],
                            props["SetIdentifier"],
                            props["Failover"],
                            props["HealthCheckId"],
                            props["ResourceRecords"][0],
                        )
                    )

    # -- the world's state ------------------------------------------------------------------
    def writer_region(self) -> str | None:
        arn = self.control.writer_arn(self.global_id)
        return next((s.region for s in self.stacks.values() if s.cluster_arn == arn), None)

    def status(self, vantage: str, url: str) -> int:
        """The HTTP status a GET of `url` from `vantage` gets (0: no answer)."""
        parsed = urlparse(url)
        region = self.domains.get(parsed.hostname or "")
        if region is None:
            raise DrillError(f"no endpoint {url} in this drill")
        if region in self.down or vantage in self.down or (vantage, region) in self.cut:
            return 0
        return 200

    def health(self) -> dict[str, bool]:
        return {
            **{k: c.healthy for k, c in self.endpoint_checks.items()},
            **{k: c.healthy for k, c in self.alarm_checks.items()},
            **{k: c.healthy for k, c in self.calculated_checks.items()},
        }

    def dns_answer(self) -> FailoverAnswer:
        return failover_answer(self.records, self.health())

    def answer_region(self) -> str:
        return self.dns_answer().record.set_identifier

    # -- the timeline ------------------------------------------------------------------------
    def begin(self) -> None:
        """T+0: from here on, what happens is the drill's timeline."""
        self.drain_pages()
        self.pages.clear()
        self._t0 = self.clock.offset_s
        self._recording = True
        answer = self.dns_answer()
        self.note("rds", f"global cluster {self.global_id}: writer in {self.writer_region()}")
        self.note(
            "route53",
            f"DNS {answer.record.name} answers {answer.record.set_identifier} ({answer.reason})",
        )

    @property
    def offset_s(self) -> float:
        return self.clock.offset_s - self._t0

    def note(self, where: str, what: str) -> None:
        if self._recording:
            self.timeline.append(Entry(self.offset_s, where, what))

    # -- one step ----------------------------------------------------------------------------
    def run_for(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        deadline = self.clock.offset_s + seconds
        while self.clock.offset_s < deadline:
            self.step()
            if until is not None and until():
                return

    def step(self) -> None:
        self.clock.advance(STEP_S)
        minute = int(self.clock.offset_s) % 60 == 0
        for stack in self.stacks.values():
            if stack.region in self.down:
                continue
            self.validator_logic.probe_peer(
                stack.clients.cloudwatch,
                replace(stack.settings, probe_samples=1),
                lambda url, at=stack.region: self.status(at, url),
            )
            if minute:
                self.validator_logic.publish_fence(
                    stack.clients.cloudwatch, stack.clients.ssm, stack.settings
                )
        if minute:
            self._publish_lag()
        self._observe()
        for check in self.endpoint_checks.values():
            if int(self.clock.offset_s) % check.interval_s == 0:
                check.observe(self.status("route53", f"https://{check.fqdn}{check.path}"))
        for stack in self.stacks.values():
            if stack.region not in self.down:
                self._evaluate(stack)
        self._route53()
        self.drain_pages()

    def _publish_lag(self) -> None:
        """RDS: the replication lag of every member that is not the writer."""
        writer = self.writer_region()
        for stack in self.stacks.values():
            if stack.region in self.down or stack.region == writer:
                continue
            # Into the backend, as RDS itself: AWS refuses PutMetricData into AWS/ names.
            cloudwatch_backends[ACCOUNT][stack.region].put_metric_data(
                "AWS/RDS",
                [
                    {
                        "MetricName": "AuroraGlobalDBReplicationLag",
                        "Dimensions": [{"Name": "DBClusterIdentifier", "Value": stack.cluster_id}],
                        "Value": self.lag_ms,
                        "Unit": "Milliseconds",
                        "Timestamp": _naive(self.clock.now()),
                    }
                ],
            )

    def _observe(self) -> None:
        observer = self._observer["AWS_REGION"]
        if observer in self.down:
            return
        targets: dict[str, str] = json.loads(self._observer["TARGETS"])

        def publisher(region: str) -> Callable[..., Any]:
            if region in self.down or (observer, region) in self.cut:

                def refused(**kwargs: Any) -> Any:
                    raise ConnectionError(f"{region} does not answer")

                return refused
            return boto3.client("cloudwatch", region).put_metric_data  # type: ignore[no-any-return]

        self.observer_probe.sample(
            targets,
            {r: publisher(r) for r in targets},
            self._observer["NAMESPACE"],
            self._observer["ENVIRONMENT"],
            observer,
            lambda url: self.status(observer, url),
        )

    def _datapoints(self, region: str, alarm: MetricAlarm) -> list[tuple[datetime, float]]:
        if region in self.down:
            return []
        found = []
        for datum in cloudwatch_backends[ACCOUNT][region].metric_data:
            if datum.namespace != alarm.namespace or datum.name != alarm.metric:
                continue
            dims = tuple(sorted((d.name, d.value) for d in datum.dimensions))
            if dims == alarm.dimensions and hasattr(datum, "value"):
                found.append((_aware(datum.timestamp), float(datum.value)))
        return found

    def _evaluate(self, stack: Stack) -> None:
        now = self.clock.now()
        for name, alarm in stack.alarms.items():
            values = alarm.period_values(self._datapoints(stack.region, alarm), now)
            state, reason = evaluate(alarm, values, stack.states[name])
            self._transition(stack, name, state, reason, stack.alarm_props[name])
        by_key = {**stack.states}
        by_key.update({alarm_arn(ACCOUNT, stack.region, k): v for k, v in stack.states.items()})
        for name, composite in stack.composites.items():
            state = ALARM if alarm_rule.holds(composite.rule, by_key) else OK
            self._transition(
                stack, name, state, f"rule: {composite.props['AlarmRule']}", composite.props
            )

    def _transition(
        self, stack: Stack, name: str, state: str, reason: str, props: Mapping[str, Any]
    ) -> None:
        previous = stack.states[name]
        if state == previous:
            return
        stack.states[name] = state
        self.note(stack.region, f"alarm {name}: {previous} -> {state}")
        event = alarm_state_change(
            account=ACCOUNT,
            region=stack.region,
            alarm_name=name,
            state=state,
            previous=previous,
            reason=reason,
            at=self.clock.now(),
        )
        if props.get("ActionsEnabled", True):
            actions = {ALARM: "AlarmActions", OK: "OKActions"}.get(state, "InsufficientDataActions")
            for topic in props.get(actions, []):
                self._alarm_notification(stack, topic, name, state, previous, reason, props)
        for rule in stack.rules:
            if rule.get("State", "ENABLED") == "ENABLED" and matches(rule["EventPattern"], event):
                for target in rule["Targets"]:
                    self._rule_fired(stack, rule, target)

    def _alarm_notification(
        self,
        stack: Stack,
        topic: str,
        name: str,
        state: str,
        previous: str,
        reason: str,
        props: Mapping[str, Any],
    ) -> None:
        boto3.client("sns", stack.region).publish(
            TopicArn=topic,
            Subject=f'{state}: "{name}" in {stack.region}',
            Message=json.dumps(
                {
                    "AlarmName": name,
                    "AlarmDescription": props.get("AlarmDescription", ""),
                    "NewStateValue": state,
                    "OldStateValue": previous,
                    "NewStateReason": reason,
                    "StateChangeTime": self.clock.now().isoformat(),
                    "Region": stack.region,
                }
            ),
        )

    def _rule_fired(self, stack: Stack, rule: Mapping[str, Any], target: Mapping[str, Any]) -> None:
        if target["Arn"] != stack.machine_arn:
            raise DrillError(f"rule {rule['Name']} targets {target['Arn']}, not the workflow")
        payload = json.loads(target["Input"])
        self.note(stack.region, f"EventBridge rule {rule['Name']} matched: starts the workflow")
        self.wait(self.start_run(stack.region, payload, trigger=f"rule {rule['Name']}"))

    def _route53(self) -> None:
        now = self.clock.now()
        for check in self.alarm_checks.values():
            values = check.alarm.period_values(
                self._datapoints(check.alarm_region, check.alarm), now
            )
            check.observe(values)
        statuses = self.health()
        for calculated in self.calculated_checks.values():
            calculated.observe(statuses)
        for check_id, healthy in self.health().items():
            history = self.health_history.setdefault(check_id, [])
            if not history or history[-1][1] != healthy:
                if history:
                    self.note(
                        "route53",
                        f"health check {check_id}: {'healthy' if healthy else 'UNHEALTHY'}",
                    )
                history.append((self.offset_s, healthy))
        answer = self.dns_answer()
        if not self.answers or self.answers[-1][1].record != answer.record:
            self.note(
                "route53",
                f"DNS {answer.record.name} answers {answer.record.set_identifier} "
                f"({answer.record.value}): {answer.reason}",
            )
        self.answers.append((self.offset_s, answer))

    def drain_pages(self) -> None:
        for stack in self.stacks.values():
            if stack.region in self.down:
                continue  # read once it is back
            sqs = boto3.client("sqs", stack.region)
            while True:
                got = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)
                messages = got.get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    body = json.loads(message["Body"])
                    page = Page(
                        self.offset_s, stack.region, body.get("Subject", ""), body["Message"]
                    )
                    self.pages.append(page)
                    self.note(stack.region, f"page: {page.subject}")
                    sqs.delete_message(
                        QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )

    # -- the failover workflow --------------------------------------------------------------
    def start_run(self, region: str, payload: Mapping[str, Any], trigger: str) -> Run:
        stack = self.stacks[region]
        if region in self.down:
            raise DrillError(f"{region} is down: its workflow cannot start")
        arn = boto3.client("stepfunctions", region).start_execution(
            stateMachineArn=stack.machine_arn,
            name=f"drill-{uuid.uuid4().hex[:12]}",
            input=json.dumps(payload),
        )["executionArn"]
        run = Run(region, arn, str(payload.get("mode")), trigger, self.offset_s)
        self.runs.append(run)
        flag = " accept_data_loss" if payload.get("accept_data_loss") is True else ""
        self.note(
            region, f"workflow {arn.rsplit(':', 1)[-1]} started ({run.mode}{flag}) by {trigger}"
        )
        return run

    def wait(self, run: Run) -> Run:
        sfn = boto3.client("stepfunctions", run.region)
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            described = sfn.describe_execution(executionArn=run.arn)
            if described["status"] != "RUNNING":
                break
            if time.monotonic() > deadline:
                raise DrillError(f"execution {run.arn} still RUNNING after {RUN_TIMEOUT_S:.0f} s")
            time.sleep(0.01)
        run.status = described["status"]
        run.error, run.cause = described.get("error", ""), described.get("cause", "")
        try:
            run.outcome = (
                json.loads(described.get("output") or "{}").get("result", {}).get("outcome", "")
            )
        except (ValueError, AttributeError):
            run.outcome = ""
        detail = run.outcome or f"{run.error}: {run.cause}"
        self.note(run.region, f"workflow {run.arn.rsplit(':', 1)[-1]} {run.status}: {detail}")
        self.drain_pages()
        return run

    def operator(self, role: Role, mode: str, *, accept_data_loss: bool = False) -> Run:
        """What `trading-dr failover` starts (same input), followed to its end."""
        payload: dict[str, Any] = {"mode": mode, "trigger": "trading-dr-cli"}
        if accept_data_loss:
            payload["accept_data_loss"] = True
        return self.wait(self.start_run(self.env.region_of(role), payload, "the operator"))

    @contextmanager
    def readiness_held(self) -> Iterator[threading.Event]:
        """Hold every run at its readiness check until the caller lets it go: a second
        trigger can then arrive while the first run holds the lock."""
        gate = threading.Event()
        self._readiness_gate, self._readiness_reached = gate, threading.Event()
        try:
            yield self._readiness_reached
        finally:
            gate.set()
            self._readiness_gate = None

    def validator(self, region: str, event: Mapping[str, Any]) -> dict[str, Any]:
        """The validator's handler (lambda_src/validator), on the drill's clock and network."""
        stack, logic = self.stacks[region], self.validator_logic
        action = event.get("action", "readiness")
        if action == "readiness":
            gate = self._readiness_gate
            if gate is not None:
                self._readiness_reached.set()
                gate.wait(RUN_TIMEOUT_S)
            report = logic.readiness(
                stack.clients,
                stack.settings,
                event.get("scope", logic.FULL),
                event.get("mode"),
                now=self.clock.now(),
                accept_data_loss=event.get("accept_data_loss") is True,
            )
            logic.publish_readiness(stack.clients.cloudwatch, stack.settings, report)
            answer: dict[str, Any] = report.as_dict()
            return answer
        if action == "verify":
            verified: dict[str, Any] = logic.verify(
                stack.settings, lambda url: self.status(region, url)
            )
            return verified
        raise DrillError(f"the drill's validator does not run action {action!r}")


def _check_id(region: str, logical: str) -> str:
    return f"{region}/{logical}"


def _naive(at: datetime) -> datetime:
    """moto stamps and compares metric timestamps as naive UTC."""
    return at.astimezone(UTC).replace(tzinfo=None)


def _aware(at: Any) -> datetime:
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    stamped: datetime = at if at.tzinfo else at.replace(tzinfo=UTC)
    return stamped


@contextmanager
def drill_world(
    env: Environment, templates: Mapping[Role, dict[str, Any]], clock: SimClock | None = None
) -> Iterator[DrillWorld]:
    """A fresh local AWS (in-process moto) with the environment deployed for a drill."""
    clock = clock or SimClock()
    holder: dict[str, DrillWorld] = {}
    original_invoke = LambdaSimpleBackend.invoke
    original_utcnow = cloudwatch_models.utcnow  # type: ignore[attr-defined]
    original_call = BaseClient._make_api_call  # type: ignore[attr-defined]

    def guarded(client: BaseClient, operation: str, params: Any) -> Any:
        """A region that is down answers nobody: every AWS call addressed to it, by the
        drill's actors or by the workflow's tasks (moto calls those through boto3 too),
        fails to connect and is recorded."""
        world = holder.get("world")
        region = client.meta.region_name
        if world is not None and region in world.down:
            name = f"{client.meta.service_model.service_name}.{operation}"
            world.refused.append((world.offset_s, region, name))
            world.note(region, f"refused (region down): {name}")
            raise EndpointConnectionError(endpoint_url=client.meta.endpoint_url)
        return original_call(client, operation, params)

    def invoke(
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        world = holder["world"]
        stack = world.stacks.get(backend.region_name)
        if stack is None or function_name not in (
            stack.validator_arn,
            stack.validator_arn.rsplit(":", 1)[-1],
        ):
            raise DrillError(f"no function {function_name} in {backend.region_name}")
        return json.dumps(world.validator(stack.region, json.loads(body or "{}"))).encode()

    # moto logs every error a state machine catches; the drill's timeline reports runs.
    moto_sfn_log = logging.getLogger("moto.stepfunctions")
    level = moto_sfn_log.level
    moto_sfn_log.setLevel(logging.CRITICAL)
    with ExitStack() as stack:
        stack.callback(moto_sfn_log.setLevel, level)
        stack.enter_context(mock_aws(config=MOTO_CONFIG))
        control = stack.enter_context(local_failover(on_wait=clock.advance))
        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
        BaseClient._make_api_call = guarded  # type: ignore[attr-defined]
        cloudwatch_models.utcnow = lambda: _naive(clock.now())  # type: ignore[attr-defined]
        try:
            world = DrillWorld(env, templates, clock, control)
            holder["world"] = world
            yield world
        finally:
            LambdaSimpleBackend.invoke = original_invoke  # type: ignore[method-assign]
            BaseClient._make_api_call = original_call  # type: ignore[attr-defined]
            cloudwatch_models.utcnow = original_utcnow  # type: ignore[attr-defined]
