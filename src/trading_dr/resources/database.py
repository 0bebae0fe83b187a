"""Aurora PostgreSQL global database.

The global cluster lives in the global template; each regional template adds its member
cluster. Whether a member is the writer (credentials) or a reader without credentials is
decided by `stacks`, passed in as `writer`.

The writer's master password is a generated `AWS::SecretsManager::Secret` (this region's data
key) resolved into `MasterUserPassword`: RDS-managed passwords (`ManageMasterUserPassword`)
are not supported for DB clusters that are part of an Aurora global database (Aurora User
Guide, "Password management with Amazon Aurora and AWS Secrets Manager", Limitations; rules
pack E9001/E9002). Rotation is a documented manual procedure (README, "Rotating the master
password"): a rotation schedule's function would run in this region against this cluster,
which after a failover is a read-only member, and cannot run at all while the region is down.
"""

from __future__ import annotations

import json

from troposphere import GetAtt, Ref, Sub, Template
from troposphere.iam import Role as IamRole
from troposphere.rds import (
    DBCluster,
    DBClusterParameterGroup,
    DBInstance,
    DBParameterGroup,
    DBSubnetGroup,
    GlobalCluster,
)
from troposphere.secretsmanager import GenerateSecretString, Secret

from trading_dr.policies import service_trust
from trading_dr.resources.vocabulary.context import KEEP_DATA, StackContext
from trading_dr.resources.vocabulary.refs import AWSHelperFn, DatabaseRefs, KeyRefs, NetworkRefs

ENGINE = "aurora-postgresql"
PORT = 5432
# CreateDBCluster MasterUserPassword: 8 to 41 printable ASCII characters except '/', '"' and
# '@'; backslash and quotes are excluded too so the password survives shells and libpq
# connection strings unquoted.
PASSWORD_EXCLUDED = "/\"@\\'`"
PASSWORD_LENGTH = 32
PASSWORD_KEY = "password"


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
    """This region's member of the global cluster; the master secret only in the writer."""
    subnet_group = template.add_resource(
        DBSubnetGroup(
            "DbSubnetGroup",
            DBSubnetGroupDescription=f"{ctx.name('db')}: private subnets only",
            SubnetIds=list(network.private_subnet_ids),
            Tags=ctx.tags(),
        )
    )
    cluster_params, instance_params = _add_parameter_groups(template, ctx)
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
    secret = _add_master_secret(template, ctx, keys) if writer else None
    credentials = _master_credentials(ctx, secret) if secret is not None else {}
    cluster = _add_cluster(
        template, ctx, network, keys, global_cluster_id, (subnet_group, cluster_params),
        credentials,
    )  # fmt: skip
    _add_instance(template, ctx, keys, cluster, instance_params, monitoring_role)
    return DatabaseRefs(
        cluster_id=Ref(cluster),
        cluster_arn=GetAtt(cluster, "DBClusterArn"),
        cluster_resource_id=GetAtt(cluster, "DBClusterResourceId"),
        endpoint=GetAtt(cluster, "Endpoint.Address"),
        reader_endpoint=GetAtt(cluster, "ReadEndpoint.Address"),
        port=GetAtt(cluster, "Endpoint.Port"),
        secret_arn=Ref(secret) if secret is not None else None,
    )


def _add_parameter_groups(
    template: Template, ctx: StackContext
) -> tuple[DBClusterParameterGroup, DBParameterGroup]:
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
    return cluster_params, instance_params


def _add_master_secret(template: Template, ctx: StackContext, keys: KeyRefs) -> Secret:
    return template.add_resource(
        Secret(
            "DbMasterSecret",
            Name=ctx.name("db-master", ctx.region),
            Description=f"{ctx.name('db')}: master user of the writer cluster",
            KmsKeyId=keys.data_key_arn,
            GenerateSecretString=GenerateSecretString(
                SecretStringTemplate=json.dumps({"username": ctx.env.database.master_username}),
                GenerateStringKey=PASSWORD_KEY,
                PasswordLength=PASSWORD_LENGTH,
                ExcludeCharacters=PASSWORD_EXCLUDED,
            ),
            Tags=ctx.tags(),
            # A snapshot restored after the stack is gone still needs its password.
            **KEEP_DATA,
        )
    )


def _master_credentials(ctx: StackContext, secret: Secret) -> dict[str, object]:
    db = ctx.env.database
    return {
        "MasterUsername": db.master_username,
        "MasterUserPassword": Sub(
            "{{resolve:secretsmanager:${" + secret.title + "}:SecretString:" + PASSWORD_KEY + "}}"
        ),
        "DatabaseName": db.database_name,
    }


def _add_cluster(
    template: Template,
    ctx: StackContext,
    network: NetworkRefs,
    keys: KeyRefs,
    global_cluster_id: AWSHelperFn,
    groups: tuple[DBSubnetGroup, DBClusterParameterGroup],
    credentials: dict[str, object],
) -> DBCluster:
    db = ctx.env.database
    subnet_group, cluster_params = groups
    return template.add_resource(
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


def _add_instance(
    template: Template,
    ctx: StackContext,
    keys: KeyRefs,
    cluster: DBCluster,
    instance_params: DBParameterGroup,
    monitoring_role: IamRole,
) -> None:
    template.add_resource(
        DBInstance(
            "DbInstance1",
            DBClusterIdentifier=Ref(cluster),
            DBInstanceClass=ctx.env.database.instance_class,
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
