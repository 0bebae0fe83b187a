"""The moto extension behaves as AWS documents FailoverGlobalCluster and
SwitchoverGlobalCluster, refuses what AWS refuses, and restores moto afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.rds.models import RDSBackend
from moto.rds.responses import RDSResponse

from trading_dr.local_aws import global_failover
from trading_dr.local_aws.global_failover import local_failover

GLOBAL_ID = "g1"


@pytest.fixture
def clusters(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str, str]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        rds1, rds2 = boto3.client("rds", "us-east-1"), boto3.client("rds", "us-east-2")
        rds1.create_global_cluster(GlobalClusterIdentifier=GLOBAL_ID, Engine="aurora-postgresql")
        common: dict[str, Any] = {
            "Engine": "aurora-postgresql",
            "GlobalClusterIdentifier": GLOBAL_ID,
        }
        primary = rds1.create_db_cluster(
            DBClusterIdentifier="a",
            MasterUsername="admin_user",
            MasterUserPassword="password-123",
            **common,
        )["DBCluster"]["DBClusterArn"]
        secondary = rds2.create_db_cluster(DBClusterIdentifier="b", **common)["DBCluster"][
            "DBClusterArn"
        ]
        yield rds2, primary, secondary


def _state(rds: Any) -> tuple[str, list[str]]:
    cluster = rds.describe_global_clusters(GlobalClusterIdentifier=GLOBAL_ID)["GlobalClusters"][0]
    writers = [m["DBClusterArn"] for m in cluster["GlobalClusterMembers"] if m["IsWriter"]]
    return cluster["Status"], writers


def test_failover_completes_after_the_configured_polls(clusters: tuple[Any, str, str]) -> None:
    rds, primary, secondary = clusters
    with local_failover(complete_after_polls=2) as control:
        answer = rds.failover_global_cluster(
            GlobalClusterIdentifier=GLOBAL_ID,
            TargetDbClusterIdentifier=secondary,
            AllowDataLoss=True,
        )
        assert answer["GlobalCluster"]["Status"] == "failing-over"
        assert _state(rds) == ("failing-over", [primary])
        assert _state(rds) == ("available", [secondary])
        assert control.calls[0]["AllowDataLoss"] is True


def test_switchover_refuses_a_non_member_and_a_second_promotion(
    clusters: tuple[Any, str, str],
) -> None:
    rds, primary, secondary = clusters
    with local_failover():
        with pytest.raises(ClientError, match="InvalidGlobalClusterStateFault"):
            rds.switchover_global_cluster(
                GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=primary
            )
        with pytest.raises(ClientError, match="GlobalClusterNotFoundFault"):
            rds.switchover_global_cluster(
                GlobalClusterIdentifier="nope", TargetDbClusterIdentifier=secondary
            )
        rds.switchover_global_cluster(
            GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary
        )
        # A second promotion while one is in progress is refused, as AWS does.
        with pytest.raises(ClientError, match="is switching-over"):
            rds.failover_global_cluster(
                GlobalClusterIdentifier=GLOBAL_ID,
                TargetDbClusterIdentifier=secondary,
                AllowDataLoss=True,
            )


def test_stall_and_reject(clusters: tuple[Any, str, str]) -> None:
    rds, primary, secondary = clusters
    with local_failover(stall=True):
        rds.failover_global_cluster(
            GlobalClusterIdentifier=GLOBAL_ID, TargetDbClusterIdentifier=secondary
        )
        for _ in range(5):
            assert _state(rds) == ("failing-over", [primary])
    with local_failover(reject_promotion=True) as control:
        with pytest.raises(ClientError, match="InvalidGlobalClusterStateFault"):
            rds.switchover_global_cluster(
                GlobalClusterIdentifier="g1", TargetDbClusterIdentifier=secondary
            )
        assert len(control.calls) == 1


def test_moto_is_as_before_on_exit() -> None:
    """Stock moto after the block; a local AWS server in this process keeps its own
    extension (`install()`), and the block's control gives way to the server's again."""
    before = (RDSBackend.describe_global_clusters, hasattr(RDSResponse, "failover_global_cluster"))
    server_control = global_failover._control
    with local_failover() as control:
        assert hasattr(RDSResponse, "failover_global_cluster")
        assert RDSBackend.describe_global_clusters is not global_failover._original_describe
        assert global_failover._control is control
        with pytest.raises(RuntimeError, match="does not nest"), local_failover():
            pass
    after = (RDSBackend.describe_global_clusters, hasattr(RDSResponse, "failover_global_cluster"))
    assert after == before
    assert global_failover._control is server_control
