"""The intake journal global table: its time-window index, TTL, and the names the Lambda
code uses (the generator cannot import it, so both lists are held equal here)."""

from __future__ import annotations

import pytest
import trading_shared.journal as lambda_journal

from tests.support.templates import ENVIRONMENTS, environment, template
from trading_dr.config import Role
from trading_dr.resources import journal


def test_attribute_and_index_names_match_the_lambda_code() -> None:
    for name in ("KEY", "TRADE", "ACCEPTED_AT", "PENDING", "EXPIRES_AT", "REGION",
                 "PENDING_INDEX", "SHARDS"):  # fmt: skip
        assert getattr(journal, name) == getattr(lambda_journal, name), name


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_pending_index_makes_the_time_window_a_query(env: str) -> None:
    # GIVEN the journal table of the global template
    props = template(env, Role.GLOBAL)["Resources"]["JournalTable"]["Properties"]

    # THEN the key is trade_id (the conditional write's subject) and the one index is
    # partitioned by minute#shard and sorted by acceptance time, projecting the trade
    assert props["KeySchema"] == [{"AttributeName": "trade_id", "KeyType": "HASH"}]
    [index] = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "pending-by-minute"
    assert index["KeySchema"] == [
        {"AttributeName": "pending", "KeyType": "HASH"},
        {"AttributeName": "accepted_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["trade"]}
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {"trade_id": "S", "pending": "S", "accepted_at": "N"}
    # on-demand: an index of a PAY_PER_REQUEST table takes no provisioned throughput
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in index
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("role", [Role.PRIMARY, Role.SECONDARY])
def test_intake_gets_the_journal_and_its_ttl(env: str, role: Role) -> None:
    t = template(env, role)
    variables = t["Resources"]["IntakeFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["JOURNAL_TABLE_NAME"] == {"Ref": "JournalTableName"}
    assert variables["JOURNAL_TTL_DAYS"] == str(environment(env).journal.ttl_days)
    assert "JournalTableName" in t["Parameters"]
