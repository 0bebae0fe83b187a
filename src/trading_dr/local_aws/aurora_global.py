"""The Aurora global database of a deployed environment, as moto RDS objects.

moto's CloudFormation has no model for AWS::RDS::GlobalCluster or AWS::RDS::DBCluster, so
the templates deploy them as stand-ins (`standins`). The failover workflow and the
validator call RDS at runtime (DescribeGlobalClusters, SwitchoverGlobalCluster,
FailoverGlobalCluster, DescribeDBClusters), so each stand-in is mirrored by the moto object
those calls find, in the stack's account:

- a global cluster lives in the account's us-east-1 RDS backend, where moto's RDS looks
  for every global cluster (global clusters have no region);
- a member cluster (one with a GlobalClusterIdentifier; no other cluster is mirrored)
  joins the global cluster named by its GlobalClusterIdentifier; the
  first to join is the writer, as the primary is in AWS (the global stack, then the
  primary, then the secondary);
- GetAtt DBClusterArn and Endpoint.Address answer from the moto cluster, so the endpoint
  the stack writes to SSM is the one DescribeDBClusters reports (the validator compares
  the two).

Deletion protection stays the stand-in's business (`protection`): the moto cluster is
created unprotected and removed with its stand-in.
"""

from __future__ import annotations

from moto.rds.models import DBCluster, RDSBackend, rds_backends

from trading_dr.local_aws.standins import MIRRORS, Mirror, StandIn

# moto keeps every global cluster in the us-east-1 backend (global clusters have no region).
GLOBAL_BACKEND_REGION = "us-east-1"
GLOBAL_CLUSTER = "AWS::RDS::GlobalCluster"
DB_CLUSTER = "AWS::RDS::DBCluster"
DEFAULT_ENGINE = "aurora-postgresql"


def global_backend(account: str) -> RDSBackend:
    """The RDS backend where moto keeps `account`'s global clusters."""
    backend: RDSBackend = rds_backends[account][GLOBAL_BACKEND_REGION]
    return backend


def _create_global(item: StandIn) -> None:
    backend = global_backend(item.account)
    if item.name in backend.global_clusters:
        return
    props = item.properties
    backend.create_global_cluster(
        global_cluster_identifier=item.name,
        source_db_cluster_identifier=None,
        engine=str(props.get("Engine") or DEFAULT_ENGINE),
        engine_version=props.get("EngineVersion"),
        storage_encrypted=props.get("StorageEncrypted"),
        deletion_protection=False,
    )


def _delete_global(item: StandIn) -> None:
    global_backend(item.account).global_clusters.pop(item.name, None)


def _cluster(item: StandIn) -> DBCluster | None:
    found: DBCluster | None = rds_backends[item.account][item.region].clusters.get(item.name)
    return found


def _create_cluster(item: StandIn) -> None:
    props = item.properties
    # Only members of a global database: the failover path calls nothing else, and a
    # cluster on its own is the stand-in's alone (moto's would want a master user).
    if not props.get("GlobalClusterIdentifier") or _cluster(item) is not None:
        return
    rds_backends[item.account][item.region].create_db_cluster(
        {
            "db_cluster_identifier": item.name,
            "engine": str(props.get("Engine") or DEFAULT_ENGINE),
            "engine_version": props.get("EngineVersion"),
            "global_cluster_identifier": props.get("GlobalClusterIdentifier"),
            "master_username": props.get("MasterUsername"),
            "port": props.get("Port"),
            "storage_encrypted": bool(props.get("StorageEncrypted")),
            "deletion_protection": False,
        }
    )
    # A joining secondary reports at once (imported here: replication_lag reads the
    # global clusters through this module).
    from trading_dr.local_aws import replication_lag

    replication_lag.publish_once(item.account)


def _delete_cluster(item: StandIn) -> None:
    backend = rds_backends[item.account][item.region]
    cluster = _cluster(item)
    if cluster is None:
        return
    global_id = cluster.global_cluster_identifier
    glob = global_backend(item.account).global_clusters.get(global_id) if global_id else None
    if glob is not None:
        glob.members[:] = [m for m in glob.members if m.db_cluster_arn != cluster.db_cluster_arn]
    backend.clusters.pop(item.name, None)


def _cluster_attribute(item: StandIn, name: str) -> str | None:
    cluster = _cluster(item)
    if cluster is None:
        return None
    answers = {
        "DBClusterArn": cluster.db_cluster_arn,
        "Endpoint.Address": cluster.endpoint,
        "ReadEndpoint.Address": cluster.reader_endpoint,
    }
    return answers.get(name)


def register() -> None:
    """Idempotent; called by `extension.install()`."""
    MIRRORS[GLOBAL_CLUSTER] = Mirror(_create_global, _delete_global, lambda _i, _n: None)
    MIRRORS[DB_CLUSTER] = Mirror(_create_cluster, _delete_cluster, _cluster_attribute)


def writer_arn(account: str, global_id: str) -> str | None:
    """The ARN of the global cluster's writer member (None: no writer, or no such cluster)."""
    cluster = global_backend(account).global_clusters.get(global_id)
    if cluster is None:
        return None
    return next((m.db_cluster_arn for m in cluster.members if m.is_writer), None)
