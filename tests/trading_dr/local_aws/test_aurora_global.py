"""The Aurora global database a stack deploys exists in moto's RDS, as the runtime sees it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from trading_dr.local_aws import aurora_global
from trading_dr.local_aws.clients import client_in
from trading_dr.local_aws.server import LocalAws

ACCOUNT = "333333333333"


def client(server: LocalAws, service: str, region: str) -> Any:
    return client_in(service, ACCOUNT, region, endpoint_url=server.endpoint_url)


def member(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::RDS::DBCluster",
        "Properties": {
            "DBClusterIdentifier": name,
            "Engine": "aurora-postgresql",
            "EngineVersion": "16.11",
            "GlobalClusterIdentifier": "g",
            **extra,
        },
    }


GLOBAL = {
    "Resources": {
        "Global": {
            "Type": "AWS::RDS::GlobalCluster",
            "Properties": {"GlobalClusterIdentifier": "g", "Engine": "aurora-postgresql"},
        }
    }
}


def stack(resources: dict[str, Any], outputs: dict[str, Any] | None = None) -> str:
    return yaml.safe_dump({"Resources": resources, "Outputs": outputs or {}})


@pytest.fixture
def global_database(local_aws: LocalAws) -> LocalAws:
    """GIVEN the global stack, then a primary and a secondary member, in that order."""
    client(local_aws, "cloudformation", "us-east-1").create_stack(
        StackName="global", TemplateBody=stack(GLOBAL["Resources"])
    )
    endpoint = {"Endpoint": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}}}
    for region, extra in (("us-east-1", {"MasterUsername": "admin"}), ("us-east-2", {})):
        client(local_aws, "cloudformation", region).create_stack(
            StackName="member",
            TemplateBody=stack({"Db": member(f"db-{region}", **extra)}, endpoint),
        )
    return local_aws


def test_members_join_the_global_cluster_and_the_first_is_the_writer(
    global_database: LocalAws,
) -> None:
    rds = client(global_database, "rds", "us-east-2")
    (found,) = rds.describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"]
    members = {m["DBClusterArn"]: m["IsWriter"] for m in found["GlobalClusterMembers"]}
    assert members == {
        f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:db-us-east-1": True,
        f"arn:aws:rds:us-east-2:{ACCOUNT}:cluster:db-us-east-2": False,
    }
    assert (
        aurora_global.writer_arn(ACCOUNT, "g")
        == f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:db-us-east-1"
    )


def test_the_stack_reports_the_endpoint_rds_reports(global_database: LocalAws) -> None:
    cfn = client(global_database, "cloudformation", "us-east-2")
    (output,) = cfn.describe_stacks(StackName="member")["Stacks"][0]["Outputs"]
    rds = client(global_database, "rds", "us-east-2")
    (cluster,) = rds.describe_db_clusters(DBClusterIdentifier="db-us-east-2")["DBClusters"]
    assert output["OutputValue"] == cluster["Endpoint"]


def test_deleting_a_member_leaves_the_global_cluster(global_database: LocalAws) -> None:
    client(global_database, "cloudformation", "us-east-2").delete_stack(StackName="member")
    rds = client(global_database, "rds", "us-east-1")
    (found,) = rds.describe_global_clusters(GlobalClusterIdentifier="g")["GlobalClusters"]
    assert [m["DBClusterArn"] for m in found["GlobalClusterMembers"]] == [
        f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:db-us-east-1"
    ]
    assert client(global_database, "rds", "us-east-2").describe_db_clusters()["DBClusters"] == []


def test_a_cluster_outside_a_global_database_stays_a_stand_in(local_aws: LocalAws) -> None:
    alone = {"Type": "AWS::RDS::DBCluster", "Properties": {"DBClusterIdentifier": "alone"}}
    client(local_aws, "cloudformation", "us-east-1").create_stack(
        StackName="alone", TemplateBody=stack({"Db": alone})
    )
    assert client(local_aws, "rds", "us-east-1").describe_db_clusters()["DBClusters"] == []
