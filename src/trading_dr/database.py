"""Aurora PostgreSQL global database.

The global cluster lives in the global template; each regional template adds its member
cluster. Whether a member is the writer (credentials, managed secret) or a headless-able
reader is decided by `stacks`, passed in as `writer`.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.iam import Role as IamRole
from troposphere.rds import (
    DBCluster,
    DBClusterParameterGroup,
    DBInstance,
    DBParameterGroup,
    DBSubnetGroup,
    GlobalCluster,
    MasterUserSecret,
)

from trading_dr.context import KEEP_DATA, StackContext
from trading_dr.policies import service_trust
from trading_dr.refs import AWSHelperFn, DatabaseRefs, KeyRefs, NetworkRefs

ENGINE = "aurora-postgresql"
PORT = 5432


def family(ctx: StackContext) -> str:
    return f"aurora-postgresql{ctx.env.database.engine_version.split('.')[0]}"


def member_cluster_identifier(ctx: StackContext, region: str) -> str:
    """The member cluster of the global database in `region` (each region names its own)."""
    return ctx.name("db", region)


def peer_member_cluster_arn(ctx: StackContext) -> Sub:
    """The ARN of the peer region's member, known from the naming scheme alone: the
    peer's stack may not exist yet, and a promotion must name both members in IAM."""
    return Sub(
        f"arn:${{AWS::Partition}}:rds:{ctx.peer_region}:${{AWS::AccountId}}:cluster:"
        f"{member_cluster_identifier(ctx, ctx.peer_region)}"
    )


def global_cluster_identifier(ctx: StackContext) -> str:
    return ctx.name("global")


def add_global_cluster(template: Template, ctx: StackContext) -> AWSHelperFn:
    """The global cluster (no source cluster: the primary's member joins it); its id Ref."""
    cluster = template.add_resource(
        GlobalCluster(
            "GlobalCluster",
            GlobalClusterIdentifier=global_cluster_identifier(ctx),
            Engine=ENGINE,
            EngineVersion=ctx.env.database.engine_version,
            StorageEncrypted=True,
            DeletionProtection=True,
            Tags=ctx.tags(),
            **KEEP_DATA,
        )
    )
    return Ref(cluster)


def add_database(
    template: Template,
    ctx: StackContext,
    network: NetworkRefs,
    keys: KeyRefs,
    global_cluster_id: AWSHelperFn,
    writer: bool,
) -> DatabaseRefs:
    db = ctx.env.database
    subnet_group = template.add_resource(
        DBSubnetGroup(
            "DbSubnetGroup",
            DBSubnetGroupDescription=f"{ctx.name('db')}: private subnets only",
            SubnetIds=list(network.private_subnet_ids),
            Tags=ctx.tags(),
        )
    )
    cluster_params = template.add_resource(
        DBClusterParameterGroup(
            "DbClusterParameterGroup",
            Description=f"{ctx.name('db')}: TLS only, audit-friendly logging",
            Family=family(ctx),
            Parameters={
                "rds.force_ssl": "1",
                "ssl_min_protocol_version": "TLSv1.2",
                "log_connections": "1",
                "log_disconnections": "1",
                "log_min_duration_statement": "1000",
            },
            Tags=ctx.tags(),
        )
    )
    instance_params = template.add_resource(
        DBParameterGroup(
            "DbInstanceParameterGroup",
            Description=f"{ctx.name('db')}: instance parameters",
            Family=family(ctx),
            Parameters={"log_lock_waits": "1"},
            Tags=ctx.tags(),
        )
    )
    monitoring_role = template.add_resource(
        IamRole(
            "DbMonitoringRole",
            RoleName=ctx.regional_name("rds-monitoring"),
            AssumeRolePolicyDocument=service_trust("monitoring.rds.amazonaws.com"),
            ManagedPolicyArns=[
                "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
            ],
            Tags=ctx.tags(),
        )
    )
    credentials: dict[str, object] = {}
    if writer:
        credentials = {
            "MasterUsername": db.master_username,
            "ManageMasterUserPassword": True,
            "MasterUserSecret": MasterUserSecret(KmsKeyId=keys.data_key_arn),
            "DatabaseName": db.database_name,
        }
    cluster = template.add_resource(
        DBCluster(
            "DbCluster",
            DBClusterIdentifier=member_cluster_identifier(ctx, ctx.region),
            Engine=ENGINE,
            EngineVersion=db.engine_version,
            GlobalClusterIdentifier=global_cluster_id,
            Port=PORT,
            DBSubnetGroupName=Ref(subnet_group),
            DBClusterParameterGroupName=Ref(cluster_params),
            VpcSecurityGroupIds=[network.db_sg_id],
            StorageEncrypted=True,
            KmsKeyId=keys.data_key_arn,
            BackupRetentionPeriod=db.backup_retention_days,
            PreferredBackupWindow="03:00-04:00",
            PreferredMaintenanceWindow="sun:05:00-sun:06:00",
            CopyTagsToSnapshot=True,
            DeletionProtection=True,
            EnableIAMDatabaseAuthentication=True,
            EnableCloudwatchLogsExports=["postgresql"],
            Tags=ctx.tags(),
            DeletionPolicy="Snapshot",
            UpdateReplacePolicy="Snapshot",
            **credentials,
        )
    )
    template.add_resource(
        DBInstance(
            "DbInstance1",
            DBClusterIdentifier=Ref(cluster),
            DBInstanceClass=db.instance_class,
            Engine=ENGINE,
            DBParameterGroupName=Ref(instance_params),
            PubliclyAccessible=False,
            # Minor versions must move in lock-step across the global cluster, so
            # upgrades are run as a planned change, not by RDS on its own schedule.
            AutoMinorVersionUpgrade=False,
            EnablePerformanceInsights=True,
            PerformanceInsightsKMSKeyId=keys.data_key_arn,
            PerformanceInsightsRetentionPeriod=7,
            MonitoringInterval=15,
            MonitoringRoleArn=GetAtt(monitoring_role, "Arn"),
            Tags=ctx.tags(),
            # The data lives in the cluster volume (Snapshot policy above); an Aurora
            # instance is compute only and cannot be snapshotted on its own.
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
        )
    )
    return DatabaseRefs(
        cluster_id=Ref(cluster),
        cluster_arn=GetAtt(cluster, "DBClusterArn"),
        cluster_resource_id=GetAtt(cluster, "DBClusterResourceId"),
        endpoint=GetAtt(cluster, "Endpoint.Address"),
        reader_endpoint=GetAtt(cluster, "ReadEndpoint.Address"),
        port=GetAtt(cluster, "Endpoint.Port"),
        secret_arn=GetAtt(cluster, "MasterUserSecret.SecretArn") if writer else None,
    )
