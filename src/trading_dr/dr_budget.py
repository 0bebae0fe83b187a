"""The DR budget (RTO and RPO), computed from the rendered templates.

Every figure that the templates decide is read back from them (health-check interval and
threshold, alarm periods, the record's TTL or alias, the workflow's poll bound and
timeout, S3 Replication Time Control); every figure AWS decides is a constant in
dr_figures.py with the document that states it. Nothing is typed twice: change a template
and the budget follows. `compute_budget(templates, env)` returns a `DrBudget`; `.rows()` is what the
audit pack prints, `.missed()` names every target the design does not meet.

The recovery time has two paths that run in parallel after the primary fails:
- traffic: Route 53's checkers fail the primary's check, then resolvers' cached answers
  expire (DNS switch); from then on the secondary answers, and its intake ACCEPTS trades:
  it needs only the sessions and journal global tables and its own queue, so an order
  answered 202 is durable in two regions before Aurora is promoted;
- writes: the secondary's own probe alarm AND the observer's alarm (a third region) fire,
  their composite quorum alarm starts the workflow, which promotes Aurora there; the
  trades accepted meanwhile (and those stranded in the old primary's queue) are STORED
  once the reconciler's next pass after its grace period replays them.
The RTO target applies to accepting trades (the traffic path): that is the service a
trader sees. Storing catching up (write path + grace + pass interval) is reported beside
it. Worst-case bounds (the workflow's poll limit and timeout) are reported as bounds: past
them a human is paged, they are not the RTO.

RPO for accepted trades: a 202 is given only after the journal write; the entry reaches
the other region with global-table replication, and the writer's reconciler replays an
entry missing from Aurora once it is older than the grace period, at its next pass. So the
journal's replication plus the grace period plus the pass interval bounds how long an
accepted trade can be out of the recovery region's Aurora, read from the templates.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from trading_dr.config import Environment, Role
from trading_dr.dr_figures import (
    ALIAS_TTL_S,
    ALIAS_TTL_SOURCE,
    AURORA_PROMOTION_S,
    AURORA_PROMOTION_SOURCE,
    AURORA_RPO_S,
    AURORA_RPO_SOURCE,
    DYNAMODB_RPO_S,
    DYNAMODB_RPO_SOURCE,
    S3_RTC_SOURCE,
)
from trading_dr.resources.failover.asl import definition_of

Json = Any
Kind = Literal["detection", "switch", "promotion", "bound", "rpo"]

# Where the reconciler's timing lives in the regional templates (its environment, set by
# trading_dr.resources.application.reconciler_environment).
RECONCILER = "ReconcilerFunction"
ACCEPTED = "accepted trades (journal replication + reconciler grace + pass)"


class BudgetError(ValueError):
    """A template lacks what the budget reads: a failover resource is missing."""


@dataclass(frozen=True)
class BudgetRow:
    component: str
    seconds: float
    kind: Kind
    source: str


@dataclass(frozen=True)
class DrBudget:
    environment: str
    rto_target_s: int
    rpo_target_s: int
    entries: tuple[BudgetRow, ...]
    traffic_rto_s: float
    writes_rto_s: float
    rpo_by_store: Mapping[str, float]
    # Write path plus the reconciler's grace and pass interval: when trades accepted
    # during the failover are in the new writer's Aurora.
    storing_rto_s: float = 0.0
    # When the writer moves without a human, in words, read from the same templates.
    automatic_failover_conditions: tuple[str, ...] = ()

    @property
    def rto_s(self) -> float:
        """RTO for accepting trades: the target applies to it (see the module docstring)."""
        return self.traffic_rto_s

    @property
    def rpo_s(self) -> float:
        return max(self.rpo_by_store.values())

    def rows(self) -> list[dict[str, Any]]:
        """Every figure with its kind and source, then the totals, for the audit report."""
        rows = [
            {"component": r.component, "seconds": r.seconds, "kind": r.kind, "source": r.source}
            for r in self.entries
        ]
        rows += [
            {
                "component": "RTO for accepting trades: traffic path (detection + DNS switch)",
                "seconds": self.traffic_rto_s,
                "kind": "total",
                "source": f"target {self.rto_target_s} s applies here: intake needs only the "
                "sessions and journal global tables and its own queue",
            },
            {
                "component": "RTO, write path (quorum of both probe alarms + Aurora promotion)",
                "seconds": self.writes_rto_s,
                "kind": "total",
                "source": "not the target's subject: accepted trades wait in the journal",
                "judged": False,
            },
            {
                "component": "Storing trades resumes (write path + reconciler grace + pass)",
                "seconds": self.storing_rto_s,
                "kind": "total",
                "source": "when trades accepted during the failover are in the new writer's "
                "Aurora; not the target's subject",
                "judged": False,
            },
            {
                "component": "RPO (worst data store)",
                "seconds": self.rpo_s,
                "kind": "total",
                "source": f"target {self.rpo_target_s} s",
            },
        ]
        return rows

    def missed(self) -> list[str]:
        """One sentence per missed target naming what misses it; empty when all are met."""
        problems = []
        if self.traffic_rto_s > self.rto_target_s:
            problems.append(
                f"rto_target_s ({self.rto_target_s} s) missed by the traffic path (accepting "
                f"trades): {self.traffic_rto_s:g} s"
            )
        for store, seconds in self.rpo_by_store.items():
            if seconds > self.rpo_target_s:
                problems.append(
                    f"rpo_target_s ({self.rpo_target_s} s) missed by {store}: {seconds:g} s"
                )
        return problems

    @property
    def within_targets(self) -> bool:
        return not self.missed()


def _resource(template: Json, logical: str, role: Role) -> Json:
    try:
        return template["Resources"][logical]["Properties"]
    except KeyError:
        raise BudgetError(f"the {role.value} template has no {logical}") from None


def _walk(node: Json) -> Iterator[Json]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _route53_detection(primary: Json) -> BudgetRow:
    config = _resource(primary, "ApiHealthCheck", Role.PRIMARY)["HealthCheckConfig"]
    interval, threshold = config["RequestInterval"], config["FailureThreshold"]
    return BudgetRow(
        "Route 53 detects the primary down",
        interval * threshold + interval,
        "detection",
        f"primary ApiHealthCheck: {interval} s interval x {threshold} failures + {interval} s "
        "checker spread (Route 53's checkers probe independently, unsynchronised)",
    )


def _dns_switch(primary: Json) -> BudgetRow:
    record = _resource(primary, "ApiFailoverRecord", Role.PRIMARY)
    if "AliasTarget" in record:
        return BudgetRow(
            "Resolvers drop the cached primary answer", ALIAS_TTL_S, "switch", ALIAS_TTL_SOURCE
        )
    ttl = int(record["TTL"])
    return BudgetRow(
        "Resolvers drop the cached primary answer", ttl, "switch", f"ApiFailoverRecord TTL {ttl} s"
    )


def _probe_detection(secondary: Json) -> BudgetRow:
    alarm = _resource(secondary, "PeerUnhealthyAlarm", Role.SECONDARY)
    period, periods = alarm["Period"], alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"])
    return BudgetRow(
        "Secondary's own probe alarm fires (first vantage point)",
        period * periods + period,
        "detection",
        f"secondary PeerUnhealthyAlarm: {periods} failing {period} s periods + one period of "
        "sampling offset (the validator probes the primary's /health every period)",
    )


def _observer_detection(secondary: Json, observer: Json) -> BudgetRow:
    alarm = _resource(secondary, "ObserverSeesPeerDownAlarm", Role.SECONDARY)
    period, periods = alarm["Period"], alarm.get("DatapointsToAlarm", alarm["EvaluationPeriods"])
    probe = _resource(observer, "ObserverFunction", Role.OBSERVER)
    sampling = int(probe["Environment"]["Variables"]["PERIOD_S"])
    return BudgetRow(
        "Observer's alarm fires (the second vantage point, a third region)",
        period * periods + sampling,
        "detection",
        f"secondary ObserverSeesPeerDownAlarm: {periods} failing {period} s periods + one "
        f"observer sampling period ({sampling} s, observer ObserverFunction PERIOD_S)",
    )


def _conditions(
    secondary: Json, observer: Json, own: BudgetRow, seen: BudgetRow
) -> tuple[str, ...]:
    quorum = _resource(secondary, "PeerDownQuorumAlarm", Role.SECONDARY)
    one = _resource(secondary, "PeerDownOneVantageAlarm", Role.SECONDARY)
    rule = next(
        r["Properties"]
        for r in secondary.get("Resources", {}).values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"].get("Name", "").endswith("failover-on-peer-unhealthy")
    )
    observer_region = json.loads(
        _resource(observer, "ObserverFunction", Role.OBSERVER)["Environment"]["Variables"][
            "TARGETS"
        ]
    )
    return (
        f"An unplanned failover starts on its own only when BOTH the secondary's own probe "
        f"({own.seconds:g} s of failed liveness) AND the observer ({seen.seconds:g} s, probing "
        f"{', '.join(sorted(observer_region))} from its own region) see the primary down: "
        f"composite alarm {quorum['AlarmName']} ({quorum['AlarmRule']}), which the rule "
        f"{rule['Name']} ({rule['State']}) turns into the workflow's unplanned mode.",
        f"One vantage point alone never moves the writer: {one['AlarmName']} pages a human "
        "with the command to run.",
        "The workflow then refuses when the last known replication lag exceeds the RPO "
        "target (unless an operator passes --accept-data-loss), stops if another run holds "
        "its lock, and changes nothing if the writer is already in the secondary.",
    )


def _workflow(secondary: Json) -> tuple[BudgetRow, BudgetRow]:
    definition = definition_of(_resource(secondary, "FailoverStateMachine", Role.SECONDARY))
    states = definition["States"]
    wait = states["WaitForWriter"]["Seconds"]
    polls = next(
        c["NumericGreaterThanEquals"]
        for c in states["WriterMoved"]["Choices"]
        if "NumericGreaterThanEquals" in c
    )
    return (
        BudgetRow(
            "Workflow stops waiting for the Aurora writer",
            wait * polls,
            "bound",
            f"secondary FailoverStateMachine: {polls} polls x {wait} s (WaitForWriter)",
        ),
        BudgetRow(
            "Workflow timeout (then a human is paged)",
            definition["TimeoutSeconds"],
            "bound",
            "secondary FailoverStateMachine TimeoutSeconds",
        ),
    )


def _s3_rpo(primary: Json) -> tuple[float, str]:
    minutes = [
        node["Time"]["Minutes"]
        for node in _walk(primary.get("Resources", {}))
        if isinstance(node, dict) and node.get("Status") == "Enabled" and "Time" in node
    ]
    if not minutes:
        raise BudgetError("no S3 Replication Time Control in the primary template: no RPO bound")
    return max(
        minutes
    ) * 60, f"primary buckets' ReplicationTime {max(minutes)} min; {S3_RTC_SOURCE}"


def _reconciler(secondary: Json) -> tuple[BudgetRow, BudgetRow]:
    """The recovery region's reconciler: grace period and the gap between passes."""
    function = _resource(secondary, RECONCILER, Role.SECONDARY)
    variables = function["Environment"]["Variables"]
    grace, interval = float(variables["GRACE_SECONDS"]), float(variables["PASS_INTERVAL_SECONDS"])
    return (
        BudgetRow(
            "Reconciler grace period (an entry younger is still in its queue)",
            grace,
            "rpo",
            f"secondary {RECONCILER} GRACE_SECONDS",
        ),
        BudgetRow(
            "Reconciler pass interval (passes within each 1-minute scheduled run)",
            interval,
            "rpo",
            f"secondary {RECONCILER} PASS_INTERVAL_SECONDS",
        ),
    )


def _global_tables(global_template: Json) -> set[str]:
    return {
        r["Properties"]["TableName"]
        for r in global_template.get("Resources", {}).values()
        if r["Type"] == "AWS::DynamoDB::GlobalTable"
    }


def _check_journal_table(templates: Mapping[Role, Json], env: Environment) -> None:
    """The accepted-trades RPO relies on the journal's global table: it must exist."""
    if Role.GLOBAL in templates:
        tables = _global_tables(templates[Role.GLOBAL])
        if not tables:
            raise BudgetError("the global template has no DynamoDB global table")
        if f"trade-journal-{env.suffix}" not in tables:
            raise BudgetError("the global template has no trade journal global table")


def _rpo_rows(lag: float, s3_seconds: float, s3_source: str) -> tuple[BudgetRow, ...]:
    return (
        BudgetRow("RPO aurora", AURORA_RPO_S, "rpo", AURORA_RPO_SOURCE),
        BudgetRow(
            "Aurora lag alarm (alerting, not a bound)",
            lag,
            "rpo",
            "secondary AuroraReplicationLagAlarm threshold; with AllowDataLoss an unplanned "
            "failover loses what has not replicated",
        ),
        BudgetRow("RPO dynamodb sessions", DYNAMODB_RPO_S, "rpo", DYNAMODB_RPO_SOURCE),
        BudgetRow("RPO s3 config and audit buckets", s3_seconds, "rpo", s3_source),
        BudgetRow(
            "Journal replication (an accepted trade reaches the other region)",
            DYNAMODB_RPO_S,
            "rpo",
            DYNAMODB_RPO_SOURCE,
        ),
    )


def compute_budget(templates: Mapping[Role, Json], env: Environment) -> DrBudget:
    """The budget of a primary-region failure, from the rendered templates (as dicts)."""
    primary, secondary = templates[Role.PRIMARY], templates[Role.SECONDARY]
    if Role.OBSERVER not in templates:
        raise BudgetError("no observer template: an automatic failover has no quorum")
    observer = templates[Role.OBSERVER]
    detection = _route53_detection(primary)
    dns = _dns_switch(primary)
    probe = _probe_detection(secondary)
    seen = _observer_detection(secondary, observer)
    promotion = BudgetRow(
        "Aurora promotes the secondary (FailoverGlobalCluster)",
        AURORA_PROMOTION_S,
        "promotion",
        AURORA_PROMOTION_SOURCE,
    )
    poll_bound, timeout = _workflow(secondary)
    lag = _resource(secondary, "AuroraReplicationLagAlarm", Role.SECONDARY)["Threshold"] / 1000
    _check_journal_table(templates, env)
    grace, interval = _reconciler(secondary)
    s3_seconds, s3_source = _s3_rpo(primary)
    rpo = {
        "aurora": float(AURORA_RPO_S),
        "dynamodb sessions": float(DYNAMODB_RPO_S),
        "s3 config and audit buckets (RTC)": float(s3_seconds),
        ACCEPTED: float(DYNAMODB_RPO_S + grace.seconds + interval.seconds),
    }
    entries = (
        detection,
        dns,
        probe,
        seen,
        promotion,
        poll_bound,
        timeout,
        *_rpo_rows(lag, s3_seconds, s3_source),
        grace,
        interval,
    )
    return DrBudget(
        environment=env.name,
        rto_target_s=env.failover.rto_target_s,
        rpo_target_s=env.failover.rpo_target_s,
        entries=entries,
        traffic_rto_s=detection.seconds + dns.seconds,
        # The composite alarm fires once the slower of the two vantage points agrees.
        writes_rto_s=max(probe.seconds, seen.seconds) + promotion.seconds,
        rpo_by_store=rpo,
        storing_rto_s=max(probe.seconds, seen.seconds)
        + promotion.seconds
        + grace.seconds
        + interval.seconds,
        automatic_failover_conditions=_conditions(secondary, observer, probe, seen),
    )
