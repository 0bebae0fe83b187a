"""A DynamoDB global table a stack deploys exists in each replica region, with its replicas."""

from __future__ import annotations

from typing import Any

import yaml

from tests.trading_dr.local_aws.test_aurora_global import client
from trading_dr.local_aws.server import LocalAws

TABLE: dict[str, Any] = {
    "Type": "AWS::DynamoDB::GlobalTable",
    "Properties": {
        "TableName": "sessions",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "token", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "token", "KeyType": "HASH"}],
        "Replicas": [{"Region": "us-east-1"}, {"Region": "us-east-2"}],
    },
}


def describe(server: LocalAws, region: str) -> dict[str, Any]:
    table: dict[str, Any] = client(server, "dynamodb", region).describe_table(TableName="sessions")[
        "Table"
    ]
    return table


def test_each_replica_region_has_the_table_and_sees_the_other_replica(local_aws: LocalAws) -> None:
    cfn = client(local_aws, "cloudformation", "us-east-1")
    cfn.create_stack(StackName="tables", TemplateBody=yaml.safe_dump({"Resources": {"T": TABLE}}))

    for region, other in (("us-east-1", "us-east-2"), ("us-east-2", "us-east-1")):
        table = describe(local_aws, region)
        assert table["TableStatus"] == "ACTIVE"
        assert table["KeySchema"] == TABLE["Properties"]["KeySchema"]
        assert table["Replicas"] == [{"RegionName": other, "ReplicaStatus": "ACTIVE"}]

    cfn.delete_stack(StackName="tables")
    for region in ("us-east-1", "us-east-2"):
        assert client(local_aws, "dynamodb", region).list_tables()["TableNames"] == []
