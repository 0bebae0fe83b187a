"""Route 53's `GetHealthCheckStatus` and `TestDNSAnswer` in the long-running local AWS,
evaluated at request time from what the local AWS holds (moto's Route 53, CloudWatch and
CloudFormation backends); route53_health.py, alarm_eval.py decide, as in the drills.

What a health check reads here:

- HTTP/HTTPS endpoint checks: the platform's API does not run locally, so the network is
  a model: an endpoint answers 200 while its region is up and nothing while
  `faults.is_region_down(region)`. Its region is the region of the deployed stack that
  serves its `FullyQualifiedDomainName`: an `AWS::ApiGateway::DomainName` (a stand-in,
  standins.py) whose `DomainName` is that name (the templates' `ApiHealthCheck` probes
  `<region>.api.<zone>`, the `RegionalDomain` of that region's stack). A name no deployed
  stack serves, or an IP address, never answers. The status is the region's status now,
  as if it had held for `FailureThreshold` requests (`EndpointCheck` fed that many).
- CLOUDWATCH_METRIC checks: the alarm named by `AlarmIdentifier` is found by name in the
  CloudFormation stacks of the check's account in the alarm's region (the alarm is a
  stand-in that keeps its properties), and its condition is applied to its metric's data
  in moto's CloudWatch (`AlarmCheck`), never to an alarm state: SetAlarmState changes
  nothing, as Route 53 documents. With no data in the evaluation range the check takes
  `InsufficientDataHealthStatus`; `LastKnownStatus` is the status from the most recent
  range that had data, recomputed from the stored data (what a continuous checker would
  have remembered), healthy if there never was any. A region that is down gives no data.
- CALCULATED checks: their children, `HealthThreshold` (`CalculatedCheck`).
- Every type: `Disabled` counts as healthy and `Inverted` flips (route53_health.reported).

"Now" is CloudWatch's clock (moto's `utcnow`, what stamps a datapoint sent without a
Timestamp), so whoever moves that clock moves the checks with it.

Not emulated: the continuous evaluation (a status exists only when asked for, nothing
happens between requests: no health-check alarms, no delay of `FailureThreshold` x
`RequestInterval` after an outage starts), Route 53's many checkers (one, in us-east-1),
string matching, latency, alias targets' own health (`EvaluateTargetHealth`).

`GetHealthCheckStatus` answers one observation; it refuses calculated checks, as AWS does
(API reference, https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetHealthCheckStatus.html).
`TestDNSAnswer` (https://docs.aws.amazon.com/Route53/latest/APIReference/API_TestDNSAnswer.html)
answers the record sets of the name and type in the zone; of a failover pair, the one
route53_health.failover_answer picks. RecordData is the record's values; for an alias to a
record of the same zone, that record's answer; for an alias to an AWS resource, its DNS
name (AWS answers the resource's addresses, which nothing local has).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from trading_dr.local_aws import faults
from trading_dr.local_aws.alarm_eval import MetricAlarm, matching_datapoints
from trading_dr.local_aws.route53_health import (
    AlarmCheck,
    CalculatedCheck,
    EndpointCheck,
    FailoverRecord,
    failover_answer,
    reported,
)
from trading_dr.local_aws.standins import StandIn

CHECKER_REGION, CHECKER_IP = "us-east-1", "15.177.0.1"  # one checker, in Route 53's range
NAMESERVER = "ns-0.awsdns-00.com."
# Properties of AWS::Route53::HealthCheck's HealthCheckConfig that moto's model drops.
_CONFIG_ATTR = "trading_dr_config"


class HealthCheckError(ValueError):
    """A health check that cannot be evaluated (e.g. its alarm does not exist)."""


def now() -> datetime:
    from moto.cloudwatch import models as cloudwatch_models

    at: datetime = cloudwatch_models.utcnow()  # type: ignore[attr-defined]
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def config(check: Any) -> dict[str, Any]:
    """The check's HealthCheckConfig as created (CloudFormation) or as moto keeps it."""
    kept = getattr(check, _CONFIG_ATTR, None)
    if kept is not None:
        return dict(kept)
    return {k: v for k, v in check.health_check_config.items() if v is not None}


def _stacks(account: str, region: str) -> Iterator[Any]:
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[account][region]
    for stack in list(backend.stacks.values()):
        if not str(stack.status).startswith("DELETE"):
            yield stack


def _standins(account: str, regions: list[str], resource_type: str) -> Iterator[StandIn]:
    for region in regions:
        for stack in _stacks(account, region):
            for model in list(stack.resource_map._parsed_resources.values()):
                if isinstance(model, StandIn) and model.resource_type == resource_type:
                    yield model


def _account_regions(account: str) -> list[str]:
    from moto.cloudformation.models import cloudformation_backends

    # The regions this account has used (indexing a region would create its backend).
    return sorted(cloudformation_backends[account].keys())


def endpoint_region(account: str, fqdn: str) -> str | None:
    """The region of the deployed stack serving `fqdn` (its API custom domain)."""
    wanted = fqdn.rstrip(".").lower()
    for model in _standins(account, _account_regions(account), "AWS::ApiGateway::DomainName"):
        if str(model.properties.get("DomainName", "")).rstrip(".").lower() == wanted:
            return model.region
    return None


def find_alarm(account: str, region: str, name: str) -> MetricAlarm:
    for model in _standins(account, [region], "AWS::CloudWatch::Alarm"):
        if model.name == name:
            return MetricAlarm.from_properties({**model.properties, "AlarmName": name})
    raise HealthCheckError(f"no CloudWatch alarm {name!r} in {region} (account {account})")


def _endpoint_status(account: str, check_id: str, conf: dict[str, Any]) -> tuple[bool, str]:
    fqdn = str(conf.get("FullyQualifiedDomainName") or "")
    region = endpoint_region(account, fqdn) if fqdn else None
    answers = region is not None and not faults.is_region_down(region)
    check = EndpointCheck(
        check_id,
        fqdn,
        str(conf.get("ResourcePath") or "/"),
        int(conf.get("RequestInterval") or 30),
        int(conf.get("FailureThreshold") or 3),
    )
    for _ in range(check.failure_threshold):
        check.observe(200 if answers else 0)
    if region is None:
        return check.healthy, f"Failure: no deployed stack serves {fqdn or 'this endpoint'}"
    if answers:
        return check.healthy, f"Success: HTTP Status Code 200, OK ({region} is up)"
    return check.healthy, f"Failure: Connection timed out ({region} is down)"


def _alarm_status(account: str, check_id: str, conf: dict[str, Any]) -> tuple[bool, str]:
    identifier = conf.get("AlarmIdentifier") or {}
    region, name = str(identifier.get("Region", "")), str(identifier.get("Name", ""))
    alarm = find_alarm(account, region, name)
    check = AlarmCheck(
        check_id, alarm, region, str(conf.get("InsufficientDataHealthStatus") or "LastKnownStatus")
    )
    from moto.cloudwatch.models import cloudwatch_backends

    points = matching_datapoints(alarm, list(cloudwatch_backends[account][region].metric_data))
    at = now()
    start, end = alarm.window(at)
    down = faults.is_region_down(region)
    # While the alarm's region is down its data cannot be read: what was stored up to now
    # is what a continuous checker read last.
    before = [t for t, _ in points if t < (end if down else start)]
    if before:
        # The most recent range that had data: the one whose first period holds the
        # latest datapoint before the current range.
        first = max(before)
        period_start = first - timedelta(seconds=first.timestamp() % alarm.period_s)
        then = period_start + timedelta(seconds=alarm.period_s * alarm.evaluation_periods)
        check.observe(alarm.period_values(points, then))
    values = [None] * alarm.evaluation_periods if down else alarm.period_values(points, at)
    healthy = check.observe(values)
    described = ", ".join("-" if v is None else f"{v:g}" for v in values)
    reason = f"alarm {name} ({region}) data [{described}]" + (f": {region} is down" if down else "")
    return healthy, f"{'Success' if healthy else 'Failure'}: {reason}"


def status(account: str, check_id: str, _seen: tuple[str, ...] = ()) -> tuple[bool, str]:
    """(healthy as Route 53 routes on it, why) of health check `check_id` now."""
    from moto.route53.models import route53_backends

    if check_id in _seen:
        raise HealthCheckError(f"health check {check_id} is its own descendant")
    check = route53_backends[account]["aws"].get_health_check(check_id)
    conf = config(check)
    kind = str(conf.get("Type"))
    if kind in ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP"):
        healthy, why = _endpoint_status(account, check_id, conf)
    elif kind == "CLOUDWATCH_METRIC":
        healthy, why = _alarm_status(account, check_id, conf)
    elif kind == "CALCULATED":
        children = tuple(str(c) for c in conf.get("ChildHealthChecks") or ())
        statuses = {c: status(account, c, (*_seen, check_id))[0] for c in children}
        calculated = CalculatedCheck(check_id, children, int(conf.get("HealthThreshold") or 0))
        healthy = calculated.observe(statuses)
        up = sum(statuses.values())
        why = f"{up} of {len(children)} children healthy ({calculated.threshold} needed)"
    else:
        raise HealthCheckError(f"health check type {kind} is not emulated")
    routed = reported(
        healthy, inverted=bool(conf.get("Inverted")), disabled=bool(conf.get("Disabled"))
    )
    return routed, why + (" (inverted)" if conf.get("Inverted") else "")


def _name(value: str) -> str:
    return value.rstrip(".").lower()


def answer(
    account: str, zone_id: str, name: str, rtype: str, _depth: int = 0
) -> tuple[str, list[str]]:
    """(DNS response code, record data) Route 53 answers for `name`/`rtype` in the zone."""
    from moto.route53.models import route53_backends

    zone = route53_backends[account]["aws"].get_hosted_zone(zone_id.rsplit("/", maxsplit=1)[-1])
    at_name = [r for r in zone.rrsets if _name(r.name) == _name(name)]
    if not at_name:
        return "NXDOMAIN", []
    sets = [r for r in at_name if r.type == rtype] or [r for r in at_name if r.type == "CNAME"]
    if not sets:
        return "NOERROR", []
    failover = [r for r in sets if r.failover]
    if failover:
        sets = [_failover_pick(account, failover)]
    data: list[str] = []
    for record in sets:
        data.extend(_record_data(account, zone_id, record, rtype, _depth))
    return "NOERROR", data


def _failover_pick(account: str, records: list[Any]) -> Any:
    if len(records) == 1:
        return records[0]  # all records of the group unhealthy count as healthy
    keyed = [
        FailoverRecord(
            r.name, str(r.set_identifier), str(r.failover), r.health_check_id or "", str(i)
        )
        for i, r in enumerate(records)
    ]
    healthy = {"": True}  # a failover record without a health check is healthy
    for r in records:
        if r.health_check_id:
            healthy[r.health_check_id] = status(account, r.health_check_id)[0]
    return records[int(failover_answer(keyed, healthy).record.value)]


def _record_data(account: str, zone_id: str, record: Any, rtype: str, depth: int) -> list[str]:
    alias = record.alias_target
    if not alias:
        return [str(v) for v in record.records]
    target = str(alias.get("DNSName", ""))
    if depth < 8:
        code, data = answer(account, zone_id, target, rtype, depth + 1)
        if code == "NOERROR" and data:
            return data
    return [target]


def install() -> None:
    """Idempotent; called by `extension.install()`."""
    from moto.route53 import urls
    from moto.route53.models import HealthCheck
    from moto.route53.responses import Route53

    if getattr(Route53, "_trading_dr_answers", False):
        return
    urls.url_paths[r"{0}/(?P<api_version>[\d_-]+)/testdnsanswer$"] = Route53.dispatch
    _keep_config(HealthCheck)
    Route53.get_health_check_status = _get_health_check_status  # type: ignore[method-assign]
    Route53.test_dns_answer = _test_dns_answer  # type: ignore[attr-defined]
    Route53._trading_dr_answers = True  # type: ignore[attr-defined]


def _keep_config(health_check_class: Any) -> None:
    """moto's CloudFormation model keeps the endpoint fields of HealthCheckConfig only
    (no AlarmIdentifier, children, threshold, Inverted...) and cannot update a check;
    AWS updates HealthCheckConfig in place (AWS::Route53::HealthCheck,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-route53-healthcheck.html)."""
    create = health_check_class.create_from_cloudformation_json

    def apply(check: Any, conf: dict[str, Any]) -> Any:
        setattr(check, _CONFIG_ATTR, dict(conf))
        check.type_ = conf.get("Type", check.type_)
        check.fqdn = conf.get("FullyQualifiedDomainName")
        check.resource_path = conf.get("ResourcePath")
        check.health_threshold = conf.get("HealthThreshold")
        check.inverted = bool(conf.get("Inverted", False))
        check.disabled = bool(conf.get("Disabled", False))
        check.set_children([str(c) for c in conf.get("ChildHealthChecks") or []])
        return check

    def create_from_cloudformation_json(
        cls: Any, resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
    ) -> Any:
        check = create.__func__(cls, resource_name, cloudformation_json, *args, **kwargs)
        return apply(check, cloudformation_json["Properties"]["HealthCheckConfig"])

    def update_from_cloudformation_json(
        cls: Any,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
    ) -> Any:
        return apply(original_resource, cloudformation_json["Properties"]["HealthCheckConfig"])

    health_check_class.create_from_cloudformation_json = classmethod(
        create_from_cloudformation_json
    )
    health_check_class.update_from_cloudformation_json = classmethod(
        update_from_cloudformation_json
    )


def _get_health_check_status(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.route53.exceptions import InvalidInput

    check_id = self._get_param("HealthCheckId")
    check = self.backend.get_health_check(check_id)
    if config(check).get("Type") == "CALCULATED":
        raise InvalidInput(
            "GetHealthCheckStatus does not report calculated health checks "
            "(read their status in the Route 53 or CloudWatch console)"
        )
    try:
        _, why = status(self.current_account, check_id)
    except HealthCheckError as exc:
        raise InvalidInput(str(exc)) from exc
    observation = {
        "Region": CHECKER_REGION,
        "IPAddress": CHECKER_IP,
        "StatusReport": {"Status": why, "CheckedTime": now()},
    }
    return ActionResult({"HealthCheckObservations": [observation]})


def _test_dns_answer(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.route53.exceptions import InvalidInput

    zone_id = self._get_param("HostedZoneId")
    name, rtype = self._get_param("RecordName"), self._get_param("RecordType")
    try:
        code, data = answer(self.current_account, zone_id, name, rtype)
    except HealthCheckError as exc:
        raise InvalidInput(str(exc)) from exc
    return ActionResult(
        {
            "Nameserver": NAMESERVER,
            "RecordName": name,
            "RecordType": rtype,
            "RecordData": data,
            "ResponseCode": code,
            "Protocol": "UDP",
        }
    )
