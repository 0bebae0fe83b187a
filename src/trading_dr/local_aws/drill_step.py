"""One 10 s step of a drill's simulated time (clock.py): AWS's own machinery, in order.

- the validator's probe sample from each region that is up (its per-minute run samples
  every 10 s) and, each minute, its republishing of the fence; RDS's
  `AuroraGlobalDBReplicationLag` published every minute for the member that is not the
  writer (`lag_ms`); the observer's sample (lambda_src/observer, real code) into both
  regions' CloudWatch; Route 53's endpoint checkers;
- then every alarm the failover path reads evaluated from the metric data (alarm_eval.py),
  the composites (alarm_rule.py), each state change sent to EventBridge (event_patterns.py:
  a match starts the rule's target, the state machine, with the rule's input) and to the
  alarm's SNS actions;
- then the health checks and the failover answer for the API name (route53_health.py),
  computed from the records and checks of both templates.

Nothing reads or sets an alarm's state to decide routing: the health checks read data.
Down regions run nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from moto.cloudwatch.models import cloudwatch_backends

from trading_dr.local_aws import alarm_rule
from trading_dr.local_aws.alarm_eval import ALARM, OK, MetricAlarm, evaluate, matching_datapoints
from trading_dr.local_aws.drill_model import DrillError, Page, Stack, naive
from trading_dr.local_aws.event_patterns import alarm_arn, alarm_state_change, matches
from trading_dr.local_aws.global_failover import ACCOUNT

if TYPE_CHECKING:
    from trading_dr.local_aws.drill_world import DrillWorld


def step(world: DrillWorld, seconds: int) -> None:
    world.clock.advance(seconds)
    minute = int(world.clock.offset_s) % 60 == 0
    for stack in world.stacks.values():
        if stack.region in world.down:
            continue
        world.validator_logic.probe_peer(
            stack.clients.cloudwatch,
            replace(stack.settings, probe_samples=1),
            lambda url, at=stack.region: world.status(at, url),
        )
        if minute:
            world.validator_logic.publish_fence(
                stack.clients.cloudwatch, stack.clients.ssm, stack.settings
            )
    if minute:
        _publish_lag(world)
    _observe(world)
    for check in world.route53.endpoint_checks.values():
        if int(world.clock.offset_s) % check.interval_s == 0:
            check.observe(world.status("route53", f"https://{check.fqdn}{check.path}"))
    for stack in world.stacks.values():
        if stack.region not in world.down:
            _evaluate(world, stack)
    _route53(world)
    drain_pages(world)


def _publish_lag(world: DrillWorld) -> None:
    """RDS: the replication lag of every member that is not the writer."""
    writer = world.writer_region()
    for stack in world.stacks.values():
        if stack.region in world.down or stack.region == writer:
            continue
        # Into the backend, as RDS itself: AWS refuses PutMetricData into AWS/ names.
        cloudwatch_backends[ACCOUNT][stack.region].put_metric_data(
            "AWS/RDS",
            [
                {
                    "MetricName": "AuroraGlobalDBReplicationLag",
                    "Dimensions": [{"Name": "DBClusterIdentifier", "Value": stack.cluster_id}],
                    "Value": world.lag_ms,
                    "Unit": "Milliseconds",
                    "Timestamp": naive(world.clock.now()),
                }
            ],
        )


def _observe(world: DrillWorld) -> None:
    settings = world.observer
    observer = settings["AWS_REGION"]
    if observer in world.down:
        return
    targets: dict[str, str] = json.loads(settings["TARGETS"])

    def publisher(region: str) -> Callable[..., Any]:
        if region in world.down or (observer, region) in world.cut:

            def refused(**kwargs: Any) -> Any:
                raise ConnectionError(f"{region} does not answer")

            return refused
        return boto3.client("cloudwatch", region).put_metric_data  # type: ignore[no-any-return]

    world.observer_probe.sample(
        targets,
        {r: publisher(r) for r in targets},
        settings["NAMESPACE"],
        settings["ENVIRONMENT"],
        observer,
        lambda url: world.status(observer, url),
    )


def _datapoints(world: DrillWorld, region: str, alarm: MetricAlarm) -> list[tuple[datetime, float]]:
    if region in world.down:
        return []
    return matching_datapoints(alarm, cloudwatch_backends[ACCOUNT][region].metric_data)


def _evaluate(world: DrillWorld, stack: Stack) -> None:
    now = world.clock.now()
    for name, alarm in stack.alarms.items():
        values = alarm.period_values(_datapoints(world, stack.region, alarm), now)
        state, reason = evaluate(alarm, values, stack.states[name])
        _transition(world, stack, name, state, reason, stack.alarm_props[name])
    by_key = {**stack.states}
    by_key.update({alarm_arn(ACCOUNT, stack.region, k): v for k, v in stack.states.items()})
    for name, composite in stack.composites.items():
        state = ALARM if alarm_rule.holds(composite.rule, by_key) else OK
        _transition(
            world, stack, name, state, f"rule: {composite.props['AlarmRule']}", composite.props
        )


def _transition(
    world: DrillWorld, stack: Stack, name: str, state: str, reason: str, props: Mapping[str, Any]
) -> None:
    previous = stack.states[name]
    if state == previous:
        return
    stack.states[name] = state
    world.note(stack.region, f"alarm {name}: {previous} -> {state}")
    event = alarm_state_change(
        account=ACCOUNT,
        region=stack.region,
        alarm_name=name,
        state=state,
        previous=previous,
        reason=reason,
        at=world.clock.now(),
    )
    if props.get("ActionsEnabled", True):
        actions = {ALARM: "AlarmActions", OK: "OKActions"}.get(state, "InsufficientDataActions")
        for topic in props.get(actions, []):
            _alarm_notification(world, stack, topic, name, state, previous, reason, props)
    for rule in stack.rules:
        if rule.get("State", "ENABLED") == "ENABLED" and matches(rule["EventPattern"], event):
            for target in rule["Targets"]:
                _rule_fired(world, stack, rule, target)


def _alarm_notification(
    world: DrillWorld,
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
                "StateChangeTime": world.clock.now().isoformat(),
                "Region": stack.region,
            }
        ),
    )


def _rule_fired(
    world: DrillWorld, stack: Stack, rule: Mapping[str, Any], target: Mapping[str, Any]
) -> None:
    if target["Arn"] != stack.machine_arn:
        raise DrillError(f"rule {rule['Name']} targets {target['Arn']}, not the workflow")
    payload = json.loads(target["Input"])
    world.note(stack.region, f"EventBridge rule {rule['Name']} matched: starts the workflow")
    world.wait(world.start_run(stack.region, payload, trigger=f"rule {rule['Name']}"))


def _route53(world: DrillWorld) -> None:
    now = world.clock.now()
    config = world.route53
    for check in config.alarm_checks.values():
        values = check.alarm.period_values(_datapoints(world, check.alarm_region, check.alarm), now)
        check.observe(values)
    statuses = world.health()
    for calculated in config.calculated_checks.values():
        calculated.observe(statuses)
    for check_id, healthy in world.health().items():
        history = world.health_history.setdefault(check_id, [])
        if not history or history[-1][1] != healthy:
            if history:
                world.note(
                    "route53",
                    f"health check {check_id}: {'healthy' if healthy else 'UNHEALTHY'}",
                )
            history.append((world.offset_s, healthy))
    answer = world.dns_answer()
    if not world.answers or world.answers[-1][1].record != answer.record:
        world.note(
            "route53",
            f"DNS {answer.record.name} answers {answer.record.set_identifier} "
            f"({answer.record.value}): {answer.reason}",
        )
    world.answers.append((world.offset_s, answer))


def drain_pages(world: DrillWorld) -> None:
    """What the alarm topics sent, read from the queues subscribed to them."""
    for stack in world.stacks.values():
        if stack.region in world.down:
            continue  # read once it is back
        sqs = boto3.client("sqs", stack.region)
        while True:
            got = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                break
            for message in messages:
                body = json.loads(message["Body"])
                page = Page(world.offset_s, stack.region, body.get("Subject", ""), body["Message"])
                world.pages.append(page)
                world.note(stack.region, f"page: {page.subject}")
                sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"])
