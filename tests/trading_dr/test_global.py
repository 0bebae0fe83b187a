"""Global template: hosted zone (or an existing one), global cluster, the sessions and trade
journal global tables."""

from __future__ import annotations

import pytest

from tests.support.assertions import resource_count_is
from tests.support.templates import ENVIRONMENTS, environment, template
from trading_dr.config import Role


def test_prod_creates_its_zone() -> None:
    t = template("prod", Role.GLOBAL)
    resource_count_is(t, "AWS::Route53::HostedZone", 1)
    assert t["Resources"]["HostedZone"]["Properties"]["Name"] == "trading.example.com."
    assert t["Outputs"]["HostedZoneId"]["Value"] == {"Ref": "HostedZone"}


def test_dev_uses_the_existing_zone() -> None:
    t = template("dev", Role.GLOBAL)
    resource_count_is(t, "AWS::Route53::HostedZone", 0)
    assert t["Outputs"]["HostedZoneId"]["Value"] == environment("dev").hosted_zone_id


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize(
    ("logical", "name"), [("SessionsTable", "user-sessions"), ("JournalTable", "trade-journal")]
)
def test_global_tables(env: str, logical: str, name: str) -> None:
    t = template(env, Role.GLOBAL)
    resource_count_is(t, "AWS::DynamoDB::GlobalTable", 2)
    table = t["Resources"][logical]
    props = table["Properties"]
    e = environment(env)
    assert props["TableName"] == f"{name}-{e.suffix}"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert props["TimeToLiveSpecification"]["Enabled"] is True
    assert [r["Region"] for r in props["Replicas"]] == [e.primary.region, e.secondary.region]
    for replica in props["Replicas"]:
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert replica["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "RetainExceptOnCreate"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_global_outputs_feed_the_regional_stages(env: str) -> None:
    outputs = template(env, Role.GLOBAL)["Outputs"]
    # A new zone's name servers are output for the deployer's delegation step; an existing
    # zone (dev) has none to show.
    new_zone = {"HostedZoneNameServers"} if env == "prod" else set()
    always = {
        "HostedZoneId",
        "GlobalClusterIdentifier",
        "SessionsTableName",
        "SessionsTableArn",
        "JournalTableName",
        "JournalTableArn",
    }
    assert set(outputs) == always | new_zone
    if new_zone:
        assert outputs["HostedZoneNameServers"]["Value"] == {
            "Fn::Join": [",", {"Fn::GetAtt": ["HostedZone", "NameServers"]}]
        }
