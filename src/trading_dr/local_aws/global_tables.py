"""DynamoDB global tables of a deployed environment, as moto tables in every replica region.

moto's CloudFormation has no model for AWS::DynamoDB::GlobalTable (a stand-in deploys it)
and moto 5.2 has no replicas at all. The platform's code reads these tables at runtime:
the validator checks that the sessions table is ACTIVE with a replica in the peer region,
`/health` and intake call DescribeTable. So each GlobalTable stand-in is mirrored by one
moto table per entry of `Replicas`, in that region, and DescribeTable of such a table
lists the other replicas ACTIVE, as AWS shows a global table (version 2019.11.21). Items
are not replicated between the regions' tables: nothing here depends on it.
"""

from __future__ import annotations

from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from trading_dr.local_aws.standins import MIRRORS, Mirror, StandIn

GLOBAL_TABLE = "AWS::DynamoDB::GlobalTable"
# (account, table name) -> the regions of its replicas
_replicas: dict[tuple[str, str], list[str]] = {}


def _regions(item: StandIn) -> list[str]:
    declared = item.properties.get("Replicas") or [{"Region": item.region}]
    return [str(r["Region"]) for r in declared]


def _create(item: StandIn) -> None:
    props = item.properties
    if not props.get("KeySchema"):
        return  # no table without a key (cfn-lint's schema check refuses the template)
    regions = _regions(item)
    _replicas[(item.account, item.name)] = regions
    for region in regions:
        backend = dynamodb_backends[item.account][region]
        if item.name in backend.tables:
            continue
        backend.create_table(
            item.name,
            schema=props.get("KeySchema") or [],
            throughput=None,
            attr=props.get("AttributeDefinitions") or [],
            global_indexes=props.get("GlobalSecondaryIndexes"),
            indexes=props.get("LocalSecondaryIndexes"),
            streams=props.get("StreamSpecification"),
            billing_mode=str(props.get("BillingMode") or "PAY_PER_REQUEST"),
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )


def _delete(item: StandIn) -> None:
    for region in _replicas.pop((item.account, item.name), _regions(item)):
        dynamodb_backends[item.account][region].tables.pop(item.name, None)


def _describe(original: Any) -> Any:
    def describe(table: Table, base_key: str = "TableDescription") -> dict[str, Any]:
        answer: dict[str, Any] = original(table, base_key)
        regions = _replicas.get((table.account_id, table.name))
        if regions:
            answer[base_key]["Replicas"] = [
                {"RegionName": r, "ReplicaStatus": "ACTIVE"}
                for r in regions
                if r != table.region_name
            ]
        return answer

    describe.__wrapped__ = original  # type: ignore[attr-defined]
    return describe


def register() -> None:
    """Idempotent; called by `extension.install()`."""
    MIRRORS[GLOBAL_TABLE] = Mirror(_create, _delete, lambda _i, _n: None)
    if not hasattr(Table.describe, "__wrapped__"):
        Table.describe = _describe(Table.describe)  # type: ignore[method-assign]


def clear() -> None:
    """Forget every replica set (the local AWS's reset empties the tables themselves)."""
    _replicas.clear()
