"""Failover drills: scenarios run end to end on the local AWS, with a timeline.

Each scenario deploys the rendered templates of an environment into a fresh `DrillWorld`
(drill_world.py), lets it settle for a minute of simulated time (T+0 is the end of that),
breaks something, runs the simulated clock and checks what the platform did. The result
lists every expectation (met or not) and the timeline: simulated offset, where, what.

- `region-outage`: the primary stops answering both vantage points -> the quorum alarm
  starts the unplanned workflow, the writer moves, DNS answers the secondary; the primary
  then comes back believing it is the writer, and the fence keeps DNS on the secondary
  for more than 5 minutes of simulated time;
- `partition`: only the secondary's probe of the primary fails -> no run, one page that
  names the command to run;
- `planned`: switchover to the secondary and back (release, then the primary's planned
  run) -> every run succeeds, no unplanned run starts, nothing pages FAILED;
- `concurrent`: the quorum alarm's run and an operator's unplanned run at the same time
  -> one promotes, the other stops without changes;
- `lag-too-high`: an outage while the last replication lag exceeds the RPO target ->
  the automatic run is refused (and pages why); the operator's run with the accept flag
  then fails over.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from trading_dr.config import Environment, Role
from trading_dr.generator import render_environment
from trading_dr.local_aws.drill_world import DrillWorld, Entry, drill_world

SETTLE_S = 120  # every alarm, check and the fence's minute metric have data by then
FENCE_HOLD_S = 300  # the bar: the fence still holds 5 minutes on
OUTAGE_AT_S = 60
DNS_WAIT_S = 300


@dataclass(frozen=True)
class Expectation:
    text: str
    met: bool


@dataclass
class DrillResult:
    scenario: str
    environment: str
    expectations: list[Expectation] = field(default_factory=list)
    timeline: list[Entry] = field(default_factory=list)
    # Measured in simulated seconds, e.g. from the outage to DNS answering elsewhere.
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.expectations) and all(e.met for e in self.expectations)

    def expect(self, text: str, met: bool) -> None:
        self.expectations.append(Expectation(text, met))

    def lines(self) -> list[str]:
        out = [f"drill {self.scenario} ({self.environment}), simulated time:"]
        out += [f"  {entry.line()}" for entry in self.timeline]
        out += ["figures (simulated seconds):"] if self.figures else []
        out += [f"  {name}: {value:g}" for name, value in self.figures.items()]
        out.append("expectations:")
        out += [f"  [{'ok' if e.met else 'FAILED'}] {e.text}" for e in self.expectations]
        out.append(f"drill {self.scenario}: {'PASSED' if self.passed else 'FAILED'}")
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "environment": self.environment,
            "passed": self.passed,
            "expectations": [{"text": e.text, "met": e.met} for e in self.expectations],
            "timeline": [entry.as_json() for entry in self.timeline],
            "figures": self.figures,
        }


def rendered_templates(env: Environment) -> dict[Role, dict[str, Any]]:
    """The templates exactly as `generate` writes them, parsed back."""
    files = render_environment(env).files
    return {
        role: yaml.load(files[f"templates/{role.value}.yaml"], Loader=yaml.CSafeLoader)
        for role in (Role.GLOBAL, Role.PRIMARY, Role.SECONDARY, Role.OBSERVER)
    }


def _no_failed_page(world: DrillWorld) -> bool:
    return not any("FAILED" in page.subject for page in world.pages)


def _unplanned_runs(world: DrillWorld) -> list[Any]:
    return [r for r in world.runs if r.mode == "unplanned"]


def _until_dns_answers(world: DrillWorld, region: str) -> bool:
    """Run until DNS answers `region` (Route 53 needs FailureThreshold x RequestInterval
    to see a change, so this depends on the environment), at most DNS_WAIT_S."""
    world.run_for(DNS_WAIT_S, until=lambda: world.answer_region() == region)
    return world.answer_region() == region


def _nothing_called(world: DrillWorld, region: str) -> tuple[str, bool]:
    calls = sorted({name for _, r, name in world.refused if r == region})
    text = f"nothing called an endpoint in {region} while it was down"
    return (text + (f" (called: {', '.join(calls)})" if calls else ""), not calls)


def region_outage(world: DrillWorld, result: DrillResult) -> None:
    primary, secondary = world.env.region_of(Role.PRIMARY), world.env.region_of(Role.SECONDARY)
    world.run_for(OUTAGE_AT_S)
    world.down.add(primary)
    outage_at = world.offset_s
    world.note(primary, "region outage: nothing in it answers anyone")
    world.run_for(300, until=lambda: bool(world.runs) and world.runs[-1].status != "RUNNING")
    runs = world.runs
    if runs:
        result.figures["outage to the workflow's start"] = runs[0].started_s - outage_at
        result.figures["outage to the workflow's end"] = world.offset_s - outage_at
    result.expect(
        "the quorum alarm's rule started exactly one unplanned run, which SUCCEEDED",
        len(runs) == 1 and runs[0].trigger.startswith("rule") and runs[0].status == "SUCCEEDED",
    )
    calls = world.control.calls
    result.expect(
        "Aurora FailoverGlobalCluster (AllowDataLoss) was called once, for the secondary",
        len(calls) == 1 and calls[0]["action"] == "FailoverGlobalCluster",
    )
    result.expect(f"the writer is in {secondary}", world.writer_region() == secondary)
    result.expect(f"DNS answers {secondary}", _until_dns_answers(world, secondary))
    moved = [t for t, a in world.answers if t > outage_at and a.record.set_identifier == secondary]
    # The secondary accepts trades before the promotion: DNS need not wait for it.
    result.figures[f"outage to DNS answering {secondary}"] = moved[0] - outage_at
    fence_check = f"{secondary}/FenceHealthCheck"
    world.run_for(120, until=lambda: not world.health()[fence_check])
    fenced_at = world.offset_s
    result.figures["outage to the fence holding the old primary out of DNS"] = fenced_at - outage_at
    world.run_for(120)
    result.expect(*_nothing_called(world, primary))
    world.down.discard(primary)
    world.note(primary, "region back; its /health answers 200 (it can accept trades)")
    world.run_for(FENCE_HOLD_S)
    since = [(t, h) for t, h in world.health_history[fence_check] if t <= fenced_at]
    after = [(t, h) for t, h in world.health_history[fence_check] if t > fenced_at]
    result.expect(
        f"the fence check stays unhealthy (fenced) for {world.offset_s - fenced_at:.0f} s "
        f"(more than {FENCE_HOLD_S} s) after the failover",
        bool(since) and not since[-1][1] and not after,
    )
    in_effect = [a for t, a in world.answers if t <= fenced_at][-1:]
    answers = [a.record.set_identifier for a in in_effect] + [
        a.record.set_identifier for t, a in world.answers if t > fenced_at
    ]
    result.expect(
        f"DNS answered {secondary} all along, with the old primary back and answering 200",
        set(answers) == {secondary},
    )
    result.expect("nothing paged FAILED", _no_failed_page(world))


def partition(world: DrillWorld, result: DrillResult) -> None:
    primary, secondary = world.env.region_of(Role.PRIMARY), world.env.region_of(Role.SECONDARY)
    world.run_for(OUTAGE_AT_S)
    world.cut.add((secondary, primary))
    world.note(secondary, f"partition: {secondary} can no longer reach {primary}")
    world.run_for(300)
    result.expect("no workflow run started", world.runs == [])
    result.expect(f"the writer stays in {primary}", world.writer_region() == primary)
    result.expect(
        f"DNS answered {primary} all along",
        {a.record.set_identifier for _, a in world.answers} == {primary},
    )
    command = f"trading-dr failover --env {world.env.name} --to secondary"
    pages = [p for p in world.pages if "one-vantage-point" in p.subject]
    result.expect(
        f"one page from the one-vantage-point alarm names the command: {command}",
        len([p for p in pages if p.subject.startswith("ALARM")]) == 1
        and all(command in p.message for p in pages),
    )
    result.expect("nothing paged FAILED", _no_failed_page(world))


def planned(world: DrillWorld, result: DrillResult) -> None:
    primary, secondary = world.env.region_of(Role.PRIMARY), world.env.region_of(Role.SECONDARY)
    world.run_for(OUTAGE_AT_S)
    over = world.operator(Role.SECONDARY, "planned")
    moved = _until_dns_answers(world, secondary)
    world.run_for(120)
    result.expect(
        f"the switchover to {secondary} SUCCEEDED, writer and DNS moved",
        over.status == "SUCCEEDED" and world.writer_region() == secondary and moved,
    )
    release = world.operator(Role.SECONDARY, "release")
    back = world.operator(Role.PRIMARY, "planned")
    world.run_for(180)
    result.expect(
        f"the release and the switchover back to {primary} SUCCEEDED, writer and DNS back",
        release.status == "SUCCEEDED"
        and back.status == "SUCCEEDED"
        and world.writer_region() == primary
        and _until_dns_answers(world, primary),
    )
    result.expect(
        "both promotions were SwitchoverGlobalCluster (no data loss)",
        [c["action"] for c in world.control.calls] == ["SwitchoverGlobalCluster"] * 2,
    )
    result.expect("no unplanned run started", _unplanned_runs(world) == [])
    result.expect("nothing paged FAILED", _no_failed_page(world))


def concurrent(world: DrillWorld, result: DrillResult) -> None:
    primary, secondary = world.env.region_of(Role.PRIMARY), world.env.region_of(Role.SECONDARY)
    world.run_for(OUTAGE_AT_S)
    with world.readiness_held() as reached:
        world.down.add(primary)
        world.note(primary, "region outage: nothing in it answers anyone")
        # The rule's run waits at its readiness check, holding the lock, so the operator's
        # run below starts while the first is running (the rule's run is followed on a
        # thread: the step that fires the rule waits for it).
        stepping = threading.Thread(
            target=world.run_for, args=(300,), kwargs={"until": lambda: bool(world.runs)}
        )
        stepping.start()
        if not reached.wait(30):
            result.expect("the rule started a run that reached its readiness check", False)
            return
        operator = world.wait(world.start_run(secondary, _unplanned(), "the operator"))
    stepping.join(60)
    first = world.runs[0]
    result.expect(
        "the rule's run did the work: SUCCEEDED with one FailoverGlobalCluster",
        first.status == "SUCCEEDED" and len(world.control.calls) == 1,
    )
    result.expect(
        "the operator's run stopped cleanly: SUCCEEDED, 'stopped without changes'",
        operator.status == "SUCCEEDED" and operator.outcome.startswith("stopped without changes"),
    )
    result.expect(
        f"the writer and DNS are in {secondary}",
        world.writer_region() == secondary and _until_dns_answers(world, secondary),
    )
    result.expect(*_nothing_called(world, primary))
    result.expect("nothing paged FAILED", _no_failed_page(world))


def _unplanned() -> dict[str, Any]:
    return {"mode": "unplanned", "trigger": "trading-dr-cli"}


def lag_too_high(world: DrillWorld, result: DrillResult) -> None:
    primary, secondary = world.env.region_of(Role.PRIMARY), world.env.region_of(Role.SECONDARY)
    target_s = world.stacks[secondary].settings.rpo_target_s
    world.lag_ms = target_s * 1000 * 10
    world.note(
        secondary,
        f"replication lag reported: {world.lag_ms / 1000:g} s (RPO target {target_s:g} s)",
    )
    world.run_for(OUTAGE_AT_S)
    world.down.add(primary)
    world.note(primary, "region outage: nothing in it answers anyone")
    world.run_for(300, until=lambda: bool(world.runs) and world.runs[-1].status != "RUNNING")
    refused = world.runs[0] if world.runs else None
    result.expect(
        "the automatic run was refused by readiness (last_known_lag) and promoted nothing",
        refused is not None
        and refused.status == "FAILED"
        and world.control.calls == []
        and world.writer_region() == primary,
    )
    result.expect(
        "its page says FAILED in ValidateReadiness, names last_known_lag and that nothing changed",
        any(
            "FAILED" in p.subject
            and "ValidateReadiness" in p.message
            and "last_known_lag" in p.message
            and "fence unchanged" in p.message
            for p in world.pages
        ),
    )
    accepted = world.operator(Role.SECONDARY, "unplanned", accept_data_loss=True)
    result.expect(
        f"with --accept-data-loss the operator's run SUCCEEDED; writer and DNS in {secondary}",
        accepted.status == "SUCCEEDED"
        and world.writer_region() == secondary
        and _until_dns_answers(world, secondary),
    )
    result.expect(*_nothing_called(world, primary))


SCENARIOS: dict[str, Callable[[DrillWorld, DrillResult], None]] = {
    "region-outage": region_outage,
    "partition": partition,
    "planned": planned,
    "concurrent": concurrent,
    "lag-too-high": lag_too_high,
}


def run_drill(
    scenario: str, env: Environment, templates: Mapping[Role, dict[str, Any]] | None = None
) -> DrillResult:
    """Run one scenario on the environment's rendered templates (or on `templates`)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {', '.join(SCENARIOS)}")
    result = DrillResult(scenario, env.name)
    with drill_world(env, templates or rendered_templates(env)) as world:
        world.run_for(SETTLE_S)
        world.begin()
        SCENARIOS[scenario](world, result)
        result.timeline = list(world.timeline)
    return result
