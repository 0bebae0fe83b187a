"""The platform's own machinery in the long-running local AWS: schedules, alarms, EventBridge.

moto evaluates no alarm and runs no schedule. The server runs `Live` beside moto; every
`TICK_S` (10 s, the shortest period of the platform's alarms) `tick(now)`, for every
account and region holding deployed stacks, except a region that is down (its CloudWatch,
EventBridge and Lambda are down with it):

- runs each ENABLED scheduled rule of the default bus whose `rate(...)` has passed since
  it was first seen or last ran, invoking its Lambda targets with the target's Input, each
  in a thread of its own (a probe takes its samples over tens of seconds). The validator's
  probe (the fence republished, the peer probed) and the observer run their real code
  (`validator_runtime`, `observer_runtime`); other functions answer as `lambdas` says;
- evaluates every deployed metric alarm from the metric data (`alarm_eval`: M of N,
  statistics, TreatMissingData), then every composite alarm (`alarm_rule`), never from a
  state set by SetAlarmState;
- on each change of state, notifies the alarm's actions (SNS topics) and puts CloudWatch's
  state-change event to the EventBridge rules of the alarm's account and region
  (`event_patterns`); a matching rule starts its Step Functions targets (with the target's
  Input, else the event) and publishes to its SNS targets.

Every AWS call goes through this server's API in the resource's account (`client_in`), so
faults apply to it as to anyone. Not emulated (noted once each in the log): cron
schedules, input transformers, other target types, metric-math alarms, content filters in
event patterns. States start INSUFFICIENT_DATA when the server first sees an alarm.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.cloudformation.models import cloudformation_backends
from moto.cloudwatch.models import cloudwatch_backends
from moto.events.models import events_backends

from trading_dr.local_aws import alarm_rule, faults
from trading_dr.local_aws.alarm_eval import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    MetricAlarm,
    UnsupportedAlarmError,
    evaluate,
    matching_datapoints,
)
from trading_dr.local_aws.clients import client_in
from trading_dr.local_aws.event_patterns import (
    UnsupportedPatternError,
    alarm_arn,
    alarm_state_change,
    matches,
)
from trading_dr.local_aws.standins import StandIn

TICK_S = 10.0
# A synchronous Invoke holds the connection as long as the function runs, up to Lambda's
# 900 s maximum timeout (a probe samples for most of its minute).
LAMBDA_MAX_TIMEOUT_S = 900
METRIC_ALARM = "AWS::CloudWatch::Alarm"
COMPOSITE_ALARM = "AWS::CloudWatch::CompositeAlarm"
RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}
log = logging.getLogger("trading_dr.local_aws.live")
Invoker = Callable[[str, str, str, str], None]  # account, region, function ARN, payload


@dataclass(frozen=True)
class Deployed:
    """A deployed alarm: its account, region, name and (resolved) properties."""

    account: str
    region: str
    name: str
    props: dict[str, Any]


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of a `rate(...)` schedule; None for anything else (cron)."""
    found = RATE.match(expression.strip())
    if found is None:
        return None
    return int(found.group(1)) * UNIT_S[found.group(2).rstrip("s")]


def _places() -> Iterator[tuple[str, str]]:
    for account in list(cloudformation_backends.keys()):
        for region in list(cloudformation_backends[account].keys()):
            if cloudformation_backends[account][region].stacks:
                yield account, region


def deployed_alarms(account: str, region: str, resource_type: str) -> list[Deployed]:
    found = []
    for stack in list(cloudformation_backends[account][region].stacks.values()):
        if stack.status.startswith("DELETE"):
            continue
        for model in list(stack.resource_map._parsed_resources.values()):
            if isinstance(model, StandIn) and model.resource_type == resource_type:
                found.append(Deployed(account, region, model.name, dict(model.properties)))
    return found


def _invoke_in_thread(account: str, region: str, function: str, payload: str) -> None:
    def invoke() -> None:
        try:
            lambda_ = client_in("lambda", account, region, read_timeout=LAMBDA_MAX_TIMEOUT_S)
            lambda_.invoke(FunctionName=function, Payload=payload)
        except Exception as exc:  # the region may have gone down meanwhile
            log.warning("scheduled invoke of %s failed: %s", function, exc)

    threading.Thread(target=invoke, name=f"invoke-{function}", daemon=True).start()


class Live:
    """What AWS does between API calls, for the deployed platform (one per server)."""

    def __init__(self, tick_s: float = TICK_S, invoke: Invoker = _invoke_in_thread) -> None:
        self._tick_s = tick_s
        self._invoke = invoke
        self.states: dict[tuple[str, str, str], str] = {}
        self._schedule_due: dict[tuple[str, str, str], datetime] = {}
        self._noted: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- the loop ------------------------------------------------------------------------
    def start(self) -> Live:
        self._thread = threading.Thread(target=self._run, name="live-platform", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._tick_s):
            try:
                self.tick(datetime.now(UTC))
            except Exception:  # the loop must outlive one bad tick; the log says why
                log.exception("live tick failed")

    def tick(self, now: datetime) -> None:
        with self._lock:
            for account, region in list(_places()):
                if faults.is_region_down(region):
                    continue
                self._schedules(account, region, now)
                self._alarms(account, region, now)

    def _note_once(self, message: str) -> None:
        if message not in self._noted:
            self._noted.add(message)
            log.warning("%s", message)

    # -- schedules -----------------------------------------------------------------------
    def _schedules(self, account: str, region: str, now: datetime) -> None:
        bus = events_backends[account][region].event_buses.get("default")
        for rule in list(bus.rules.values()) if bus else []:
            if not rule.scheduled_expression or rule.state != "ENABLED":
                continue
            every = rate_seconds(rule.scheduled_expression)
            if every is None:
                self._note_once(f"{rule.name}: schedule {rule.scheduled_expression} not run")
                continue
            key = (account, region, rule.name)
            due = self._schedule_due.setdefault(key, now + timedelta(seconds=every))
            if now < due:
                continue
            self._schedule_due[key] = now + timedelta(seconds=every)
            for target in rule.targets:
                if ":lambda:" in target["Arn"]:
                    self._invoke(account, region, target["Arn"], target.get("Input") or "{}")
                else:
                    self._note_once(f"{rule.name}: scheduled target {target['Arn']} not run")

    # -- alarms and EventBridge ----------------------------------------------------------
    def _alarms(self, account: str, region: str, now: datetime) -> None:
        by_key: dict[str, str] = {}
        for alarm in deployed_alarms(account, region, METRIC_ALARM):
            try:
                metric = MetricAlarm.from_properties(alarm.props)
            except UnsupportedAlarmError as exc:
                self._note_once(f"alarm not evaluated: {exc}")
                continue
            previous = self.states.get((account, region, alarm.name), INSUFFICIENT_DATA)
            data = cloudwatch_backends[account][region].metric_data
            values = metric.period_values(matching_datapoints(metric, list(data)), now)
            state, reason = evaluate(metric, values, previous)
            self._set(alarm, state, reason, now)
            by_key[alarm.name] = by_key[alarm_arn(account, region, alarm.name)] = state
        for composite in deployed_alarms(account, region, COMPOSITE_ALARM):
            rule = alarm_rule.parse(str(composite.props["AlarmRule"]))
            state = ALARM if alarm_rule.holds(rule, by_key) else OK
            self._set(composite, state, f"rule: {composite.props['AlarmRule']}", now)

    def _set(self, alarm: Deployed, state: str, reason: str, now: datetime) -> None:
        key = (alarm.account, alarm.region, alarm.name)
        previous = self.states.get(key, INSUFFICIENT_DATA)
        self.states[key] = state
        if state == previous:
            return
        log.info(
            "%s %s alarm %s: %s -> %s", alarm.account, alarm.region, alarm.name, previous, state
        )
        self._actions(alarm, state, previous, reason, now)
        event = alarm_state_change(
            account=alarm.account,
            region=alarm.region,
            alarm_name=alarm.name,
            state=state,
            previous=previous,
            reason=reason,
            at=now,
        )
        bus = events_backends[alarm.account][alarm.region].event_buses.get("default")
        for rule in list(bus.rules.values()) if bus else []:
            pattern = rule.event_pattern.get_pattern()
            if rule.state != "ENABLED" or not pattern:
                continue
            try:
                matched = matches(pattern, event)
            except UnsupportedPatternError as exc:
                self._note_once(f"{rule.name}: {exc}")
                continue
            if matched:
                for target in rule.targets:
                    self._fire(alarm, rule.name, target, event)

    def _actions(
        self, alarm: Deployed, state: str, previous: str, reason: str, now: datetime
    ) -> None:
        if str(alarm.props.get("ActionsEnabled", True)).lower() == "false":
            return
        actions = {ALARM: "AlarmActions", OK: "OKActions"}.get(state, "InsufficientDataActions")
        message = {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.props.get("AlarmDescription", ""),
            "NewStateValue": state,
            "OldStateValue": previous,
            "NewStateReason": reason,
            "StateChangeTime": now.isoformat(),
            "Region": alarm.region,
        }
        for topic in alarm.props.get(actions) or []:
            client_in("sns", alarm.account, alarm.region).publish(
                TopicArn=topic,
                Subject=f'{state}: "{alarm.name}" in {alarm.region}'[:100],
                Message=json.dumps(message),
            )

    def _fire(self, alarm: Deployed, rule: str, target: dict[str, Any], event: Any) -> None:
        arn = str(target["Arn"])
        payload = target.get("Input") or json.dumps(event)
        if "InputTransformer" in target or "InputPath" in target:
            self._note_once(f"{rule}: input transformers are not emulated; the event is sent")
        log.info("EventBridge rule %s matched: %s", rule, arn)
        if ":states:" in arn:
            client_in("stepfunctions", alarm.account, alarm.region).start_execution(
                stateMachineArn=arn, name=str(uuid.uuid4()), input=payload
            )
        elif ":sns:" in arn:
            client_in("sns", alarm.account, alarm.region).publish(TopicArn=arn, Message=payload)
        else:
            self._note_once(f"{rule}: target {arn} not emulated")
