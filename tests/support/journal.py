"""The journal table in the local AWS, created from its definition in templates/global.yaml
(the reviewed rendering; the golden test keeps it current), so the code under test meets
the key schema and index AWS will have."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def journal_definition() -> dict[str, Any]:
    template = yaml.load((ROOT / "templates" / "global.yaml").read_text(), Loader=yaml.CSafeLoader)
    properties: dict[str, Any] = template["Resources"]["JournalTable"]["Properties"]
    return properties


def create_journal_table(dynamodb: Any, name: str) -> None:
    props = journal_definition()
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=[
            {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
            for index in props["GlobalSecondaryIndexes"]
        ],
        BillingMode=props["BillingMode"],
        StreamSpecification={
            "StreamEnabled": True,
            "StreamViewType": props["StreamSpecification"]["StreamViewType"],
        },
    )
