"""Cutting and restoring regions of a running local AWS from another process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from click.testing import CliRunner

from trading_dr.cli import cli, register_operating_commands
from trading_dr.local_aws.outage import CONTROL_PATH
from trading_dr.local_aws.server import LocalAws

register_operating_commands()


def post(server: LocalAws, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        server.endpoint_url + CONTROL_PATH, data=json.dumps(body).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def sts(server: LocalAws, region: str) -> Any:
    return boto3.client(
        "sts",
        region_name=region,
        endpoint_url=server.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_a_region_cut_from_outside_refuses_requests_until_restored(local_aws: LocalAws) -> None:
    assert post(local_aws, {"down": ["us-east-1"]}) == (200, {"down": ["us-east-1"]})
    with pytest.raises(ClientError, match=r"ServiceUnavailable|503"):
        sts(local_aws, "us-east-1").get_caller_identity()
    sts(local_aws, "us-east-2").get_caller_identity()  # the other region answers
    assert post(local_aws, {"up": ["us-east-1"]}) == (200, {"down": []})
    sts(local_aws, "us-east-1").get_caller_identity()


@pytest.mark.parametrize(
    "body",
    [{"down": ["us-east-1\n"]}, {"down": [""]}, {"down": [5]}, {"up": ["../etc"]}, ["us-east-1"]],
    ids=["newline", "empty", "number", "path", "not-an-object"],
)
def test_what_is_not_a_region_is_refused(local_aws: LocalAws, body: Any) -> None:
    status, answer = post(local_aws, body)
    assert status == 400
    assert "error" in answer
    assert post(local_aws, {})[1] == {"down": []}  # nothing was changed


def test_the_command_cuts_and_restores_regions(local_aws: LocalAws) -> None:
    runner = CliRunner()
    url = ["--endpoint-url", local_aws.endpoint_url]
    cut = runner.invoke(cli, ["local-aws", "--region-down", "us-east-1", *url])
    assert cut.exit_code == 0, cut.output
    assert cut.stdout.strip().endswith("regions down: us-east-1")
    back = runner.invoke(cli, ["local-aws", "--region-up", "us-east-1", *url])
    assert back.stdout.strip().endswith("regions down: none")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--region-down", "us-east-1", "--endpoint-url", "https://cloudformation.amazonaws.com"],
         "not a local AWS on this machine"),
        (["--endpoint-url", "http://127.0.0.1:1"], "applies to --region-down/--region-up only"),
        (["--region-down", "nowhere"], None),
    ],
    ids=["aws-endpoint", "url-alone", "bad-name"],
)  # fmt: skip
def test_the_command_refuses_what_it_cannot_do(
    local_aws: LocalAws, args: list[str], message: str | None
) -> None:
    if message is None:  # the bad name reaches the local AWS, which refuses it
        args = [*args, "--endpoint-url", local_aws.endpoint_url]
        message = "not regions"
    result = CliRunner().invoke(cli, ["local-aws", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "fix:" in result.stderr
