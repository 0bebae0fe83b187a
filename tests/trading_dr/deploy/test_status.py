"""`trading-dr status`: the region DNS answers the API's failover name with (TestDNSAnswer
against the local AWS, prod deployed by `trading-dr deploy`)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.trading_dr.local_aws.fixtures import make_deployment, use_account
from trading_dr.cli import cli, register_operating_commands
from trading_dr.config import Environment
from trading_dr.deploy.status import answer_region, describe_answer, dns_answers
from trading_dr.local_aws import faults
from trading_dr.local_aws.server import LocalAws

register_operating_commands()
NAME = "api.trading.example.com"


@pytest.fixture
def deployed(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    use_account(local_aws, "111111111111", monkeypatch)  # prod's account
    endpoint = ["--endpoint-url", local_aws.endpoint_url, "--env", "prod"]
    result = CliRunner().invoke(cli, ["deploy", *endpoint, "--skip-delegation-check"])
    assert result.exit_code == 0, result.output
    return endpoint


@pytest.mark.parametrize(
    ("down", "region"),
    [((), "us-east-1"), (("us-east-2",), "us-east-1"), (("us-east-1",), None)],
    ids=["all-up", "secondary-down", "route53-control-plane-down"],
)
def test_dns_answer_per_failover_record(
    local_aws: LocalAws,
    deployed: list[str],
    prod: Environment,
    down: tuple[str, ...],
    region: str | None,
) -> None:
    # GIVEN prod deployed, and regions down
    dep = make_deployment(local_aws, prod, {})
    for name in down:
        faults.region_down(name)
    # WHEN the status asks Route 53
    (row,) = dns_answers(dep)
    # THEN it names the region DNS answers with, or says that the answer is unavailable
    assert (row["name"], row["account"]) == (NAME, "111111111111")
    if region is None:
        assert row["answer"] is None
        assert "ServiceUnavailable" in row["unavailable"]
        assert "answer unavailable" in describe_answer(row)
    else:
        assert row["region"] == region
        assert describe_answer(row).startswith(f"dns {NAME} (account 111111111111) -> {region} (")


def test_status_prints_the_dns_answer_in_text_and_json(deployed: list[str]) -> None:
    # GIVEN prod deployed WHEN status is asked for, as text then JSON
    text = CliRunner().invoke(cli, ["status", *deployed])
    as_json = CliRunner().invoke(cli, ["status", *deployed, "--output", "json"])
    # THEN both say DNS answers the primary's region
    assert text.exit_code == 0, text.output
    assert f"dns {NAME} (account 111111111111) -> us-east-1 (d-" in text.stdout
    assert as_json.exit_code == 0, as_json.output
    (row,) = json.loads(as_json.stdout)["dns"]
    assert (row["region"], row["response_code"]) == ("us-east-1", "NOERROR")


@pytest.mark.parametrize(
    ("data", "region"),
    [
        (["d-4fa511fe55.execute-api.us-east-2.amazonaws.com"], "us-east-2"),
        (["d-1.execute-api.eu-central-1.amazonaws.com."], "eu-central-1"),
        (["192.0.2.10", "d-1.execute-api.us-gov-west-1.amazonaws.com"], "us-gov-west-1"),
        (["api.trading.example.com"], None),
        (["d-1.execute-api.us-east-2.amazonaws.com.evil.example"], None),
        ([], None),
    ],
)
def test_the_region_is_read_from_the_regional_api_domain(
    data: list[str], region: str | None
) -> None:
    assert answer_region(data) == region


@given(st.lists(st.text(max_size=80), max_size=4))
def test_any_answer_gives_a_region_it_names_or_none(data: list[str]) -> None:
    # Hostile input: whatever Route 53 returns, the region is one the answer spells out.
    region = answer_region(data)
    assert region is None or any(f".execute-api.{region}.amazonaws.com" in d for d in data)
