"""`trading-dr failover` during an outage of the primary region (issue 15 item 1).

The local AWS refuses every request addressed to us-east-1 (`faults.region_down`, HTTP
503 as an unavailable endpoint answers); the command must still find, start and follow
the workflow in us-east-2, calling nothing in us-east-1 (not even STS), and `status
--region` must report the surviving region from its own endpoints.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.trading_dr.deploy.test_failover_cmd import (
    ENV_ACCOUNT,
    PRIMARY,
    READY,
    SECONDARY,
    SERVING,
    client,
    invoke,
    world,
)
from trading_dr.local_aws import faults
from trading_dr.local_aws.global_failover import FailoverControl
from trading_dr.local_aws.server import LocalAws

__all__ = ["world"]


def test_failover_runs_with_the_primary_region_down(
    world: tuple[LocalAws, FailoverControl, str],
) -> None:
    server, control, secondary = world
    control.queue_lambda_result(SECONDARY, READY, ENV_ACCOUNT)
    control.queue_lambda_result(SECONDARY, SERVING, ENV_ACCOUNT)
    faults.region_down(PRIMARY)

    result = invoke(server, "failover", "--yes")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith("failover (unplanned) SUCCEEDED in ")
    assert control.calls[0]["AllowDataLoss"] is True
    assert control.writer_arn("trading-prod-global", ENV_ACCOUNT) == secondary
    assert faults.refused_calls() == []  # nothing was even tried in us-east-1


@pytest.mark.parametrize("service", ["sts", "cloudformation", "stepfunctions", "rds"])
def test_the_outage_refuses_every_call_to_the_failed_region(
    world: tuple[LocalAws, FailoverControl, str], service: str
) -> None:
    server = world[0]
    faults.region_down(PRIMARY)
    reads = {  # a read per service, and the name the service signs with
        "sts": ("get_caller_identity", "sts"),
        "cloudformation": ("describe_stacks", "cloudformation"),
        "stepfunctions": ("list_state_machines", "states"),
        "rds": ("describe_db_clusters", "rds"),
    }
    read, signing_name = reads[service]

    getattr(client(server, service, SECONDARY), read)()  # the other region answers
    with pytest.raises(ClientError) as refused:
        getattr(client(server, service, PRIMARY), read)()

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert set(faults.refused_calls()) == {(PRIMARY, signing_name)}  # boto3 retried the 503


def test_status_of_the_surviving_region_uses_its_endpoints_only(
    world: tuple[LocalAws, FailoverControl, str],
) -> None:
    server = world[0]
    faults.region_down(PRIMARY)

    result = invoke(server, "status", "--region", SECONDARY, "--output", "json")

    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["region"] == SECONDARY
    assert body["failover_workflow"]["name"] == "trading-prod-failover"
    assert faults.refused_calls() == []
