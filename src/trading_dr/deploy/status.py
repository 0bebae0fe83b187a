"""Status of the deployed stack sets: instances, their status and the last operation.

`regional_status` answers for one region from that region's endpoints only (its
CloudFormation stacks, its failover workflow and last executions): what an operator can
still see of the surviving region while the StackSets administration region is down.

`dns_answers` says which region Route 53 answers the API's failover name with, from
`TestDNSAnswer` (Route 53 API Reference,
https://docs.aws.amazon.com/Route53/latest/APIReference/API_TestDNSAnswer.html), a control
plane call served from us-east-1 only: while it does not answer, the line says so and the
rest of the status stands.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from trading_dr.deploy import stacksets
from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.failover_cmd import state_machine_arn
from trading_dr.deploy.plan import stages
from trading_dr.deploy.retry import call, error_code


def status(dep: Deployment) -> list[dict[str, Any]]:
    cfn = dep.clients.client("cloudformation", dep.env.primary.region)
    rows: list[dict[str, Any]] = []
    for stage in stages(dep.env):
        if stage.role is None or stage.name == "link":
            continue
        found = stacksets.describe_stack_set(cfn, dep.pacing, stage.stack_set)
        row: dict[str, Any] = {"stack_set": stage.stack_set, "region": stage.region}
        if found is None:
            rows.append({**row, "status": "ABSENT", "instances": [], "last_operation": None})
            continue
        operations = call(
            dep.pacing, cfn.list_stack_set_operations, StackSetName=stage.stack_set
        ).get("Summaries", [])
        # Operations started within one timestamp tick: the later in the list is newer.
        ranked = [(o["CreationTimestamp"], n, o) for n, o in enumerate(operations)]
        last = max(ranked, key=lambda r: r[:2])[2] if ranked else None
        instances = [
            {
                "account": i["Account"],
                "region": i["Region"],
                "status": i.get("Status"),
                "detailed_status": i.get("StackInstanceStatus", {}).get("DetailedStatus"),
                "drift_status": i.get("DriftStatus", "NOT_CHECKED"),
                "stack_status": _stack_status(dep, i),
                **({"reason": i["StatusReason"]} if i.get("StatusReason") else {}),
            }
            for i in stacksets.list_instances(cfn, dep.pacing, stage.stack_set)
        ]
        rows.append(
            {
                **row,
                "status": found.get("Status"),
                "instances": instances,
                "last_operation": None
                if last is None
                else {
                    "id": last["OperationId"],
                    "action": last["Action"],
                    "status": last["Status"],
                },
            }
        )
    return rows


def _stack_status(dep: Deployment, instance: dict[str, Any]) -> str | None:
    """The instance's own stack status (e.g. UPDATE_ROLLBACK_COMPLETE after a failed
    update): what CloudFormation did to it, beyond the stack set's CURRENT/OUTDATED."""
    if not instance.get("StackId"):
        return None
    cfn = dep.clients.client("cloudformation", instance["Region"], instance["Account"])
    try:
        stacks = call(dep.pacing, cfn.describe_stacks, StackName=instance["StackId"])["Stacks"]
    except ClientError as exc:
        if error_code(exc) == "ValidationError":  # deleted since: no such stack
            return "ABSENT"
        raise
    return str(stacks[0]["StackStatus"]) if stacks else "ABSENT"


def _stacks_in(dep: Deployment, region: str) -> list[dict[str, Any]]:
    """The environment's stack set stacks in `region` (StackSet-trading-<env>-...)."""
    cfn = dep.clients.client("cloudformation", region)
    prefix = f"StackSet-trading-{dep.env.suffix}-"
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page = call(dep.pacing, cfn.describe_stacks, **({"NextToken": token} if token else {}))
        for stack in page.get("Stacks", []):
            if str(stack["StackName"]).startswith(prefix):
                found.append(
                    {
                        "stack": stack["StackName"],
                        "status": stack["StackStatus"],
                        **({"reason": stack["StackStatusReason"]}
                           if stack.get("StackStatusReason") else {}),
                    }
                )  # fmt: skip
        token = page.get("NextToken")
        if not token:
            return sorted(found, key=lambda s: str(s["stack"]))


def _workflow_in(dep: Deployment, region: str) -> dict[str, Any]:
    sfn = dep.clients.client("stepfunctions", region)
    arn = state_machine_arn(dep.clients, region, dep.env.suffix)
    row: dict[str, Any] = {"name": arn.rsplit(":", 1)[1], "arn": arn}
    try:
        call(dep.pacing, sfn.describe_state_machine, stateMachineArn=arn)
    except ClientError as exc:
        if error_code(exc) != "StateMachineDoesNotExist":
            raise
        return {**row, "status": "ABSENT", "executions": []}
    executions = call(dep.pacing, sfn.list_executions, stateMachineArn=arn, maxResults=5)
    return {
        **row,
        "status": "ACTIVE",
        "executions": [
            {"name": e["name"], "status": e["status"], "started": e["startDate"]}
            for e in executions.get("executions", [])
        ],
    }


def regional_status(dep: Deployment, region: str) -> dict[str, Any]:
    """`region`'s stacks and failover workflow, from `region`'s endpoints only."""
    return {
        "region": region,
        "account": dep.clients.caller_account(),
        "stacks": _stacks_in(dep, region),
        "failover_workflow": _workflow_in(dep, region),
    }


# Route 53's control plane (TestDNSAnswer included) is served from us-east-1.
ROUTE53_REGION = "us-east-1"
# A regional API Gateway domain's target: d-<id>.execute-api.<region>.amazonaws.com.
_API_REGION = re.compile(r"\.execute-api\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com\.?$")


def dns_answers(dep: Deployment) -> list[dict[str, Any]]:
    """Per account: the region DNS answers the failover name `api.<domain>` with, or why
    that is unavailable. One attempt each: a status line does not wait out an outage."""
    name = f"api.{dep.env.domain}"
    rows: list[dict[str, Any]] = []
    for account in dep.env.accounts:
        row: dict[str, Any] = {"name": name, "account": account}
        try:
            route53 = dep.clients.client("route53", ROUTE53_REGION, account)
            zones = [dep.env.hosted_zone_id] if dep.env.hosted_zone_id else _zones(route53, dep)
            if not zones:
                rows.append({**row, "answer": None, "unavailable": f"no zone {dep.env.domain}"})
                continue
            for zone in zones:
                answer = route53.test_dns_answer(
                    HostedZoneId=zone, RecordName=name, RecordType="CNAME"
                )
                data = [str(d) for d in answer.get("RecordData", [])]
                rows.append(
                    {
                        **row,
                        "zone": zone,
                        "response_code": answer.get("ResponseCode"),
                        "answer": data,
                        "region": answer_region(data),
                    }
                )
        except (ClientError, BotoCoreError) as exc:
            why = error_code(exc) or type(exc).__name__
            rows.append(
                {
                    **row,
                    "answer": None,
                    "unavailable": f"Route 53 ({ROUTE53_REGION}) did not answer: {why}",
                }
            )
    return rows


def answer_region(data: list[str]) -> str | None:
    """The region of the first regional API Gateway domain in the answer, if any."""
    for value in data:
        found = _API_REGION.search(value)
        if found:
            return found.group(1)
    return None


def _zones(route53: Any, dep: Deployment) -> list[str]:
    wanted = f"{dep.env.domain}."
    listed = route53.list_hosted_zones_by_name(DNSName=wanted).get("HostedZones", [])
    return [
        str(z["Id"]).rsplit("/", 1)[-1]
        for z in listed
        if z["Name"] == wanted and not z.get("Config", {}).get("PrivateZone")
    ]


def describe_answer(row: dict[str, Any]) -> str:
    """One line: `dns api.example.com -> us-east-2 (d-....execute-api...)`."""
    head = f"dns {row['name']} (account {row['account']})"
    if row.get("unavailable"):
        return f"{head}: answer unavailable: {row['unavailable']}"
    if not row["answer"]:
        return f"{head}: no answer ({row.get('response_code')})"
    return f"{head} -> {row.get('region') or 'unknown region'} ({', '.join(row['answer'])})"
