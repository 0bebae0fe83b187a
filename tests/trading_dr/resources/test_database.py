"""Aurora global database: one global cluster, a writer in the primary, a member in the secondary."""

from __future__ import annotations

import json

import pytest

from tests.support.assertions import resource_count_is
from tests.support.templates import ENVIRONMENTS, REGIONAL, environment, template
from trading_dr.config import Role

CASES = [(env, role) for env in ENVIRONMENTS for role in REGIONAL]
IDS = [f"{e}-{r.value}" for e, r in CASES]
CREDENTIALS = (
    "MasterUsername", "MasterUserPassword", "ManageMasterUserPassword", "MasterUserSecret",
    "DatabaseName",
)  # fmt: skip


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_global_cluster_is_encrypted_protected_and_retained(env: str) -> None:
    cluster = template(env, Role.GLOBAL)["Resources"]["GlobalCluster"]
    assert cluster["Properties"]["Engine"] == "aurora-postgresql"
    assert cluster["Properties"]["EngineVersion"] == environment(env).database.engine_version
    assert cluster["Properties"]["StorageEncrypted"] is True
    assert cluster["Properties"]["DeletionProtection"] is True
    assert cluster["DeletionPolicy"] == "RetainExceptOnCreate"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_member_cluster_joins_the_global_cluster_encrypted(env: str, role: Role) -> None:
    t = template(env, role)
    resource_count_is(t, "AWS::RDS::DBCluster", 1)
    resource_count_is(t, "AWS::RDS::DBInstance", 1)
    cluster = t["Resources"]["DbCluster"]
    props = cluster["Properties"]
    db = environment(env).database
    assert props["GlobalClusterIdentifier"] == {"Ref": "GlobalClusterIdentifier"}
    assert props["EngineVersion"] == db.engine_version
    assert props["StorageEncrypted"] is True
    assert props["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}, "own region's key"
    assert props["BackupRetentionPeriod"] == db.backup_retention_days >= 7
    assert props["EnableCloudwatchLogsExports"] == ["postgresql"]
    assert props["DeletionProtection"] is True
    assert (cluster["DeletionPolicy"], cluster["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    instance = t["Resources"]["DbInstance1"]["Properties"]
    assert instance["DBInstanceClass"] == db.instance_class
    assert instance["PubliclyAccessible"] is False


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_only_the_primary_holds_credentials_from_a_generated_secret(env: str) -> None:
    # RDS-managed passwords are not supported for global database members (Aurora User
    # Guide, Secrets Manager limitations): the writer's password is a generated secret.
    primary_t = template(env, Role.PRIMARY)
    primary = primary_t["Resources"]["DbCluster"]["Properties"]
    secondary = template(env, Role.SECONDARY)["Resources"]["DbCluster"]["Properties"]
    assert "ManageMasterUserPassword" not in primary
    assert "MasterUserSecret" not in primary
    assert primary["MasterUserPassword"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${DbMasterSecret}:SecretString:password}}"
    }
    secret = primary_t["Resources"]["DbMasterSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    generate = secret["Properties"]["GenerateSecretString"]
    assert json.loads(generate["SecretStringTemplate"]) == {
        "username": environment(env).database.master_username
    }
    assert generate["GenerateStringKey"] == "password"
    assert 8 <= generate["PasswordLength"] <= 41
    assert set('/"@') <= set(generate["ExcludeCharacters"])
    assert secret["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}, "own region"
    assert not set(CREDENTIALS) & set(secondary)
    assert "DbMasterSecret" not in template(env, Role.SECONDARY)["Resources"]
    assert primary_t["Outputs"]["DbSecretArn"]["Value"] == {"Ref": "DbMasterSecret"}
    assert "DbSecretArn" not in template(env, Role.SECONDARY)["Outputs"]


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_parameter_groups_force_tls(env: str, role: Role) -> None:
    t = template(env, role)
    params = t["Resources"]["DbClusterParameterGroup"]["Properties"]
    assert params["Family"] == f"aurora-postgresql{environment(env).database.engine_version[:2]}"
    assert params["Parameters"]["rds.force_ssl"] == "1"


@pytest.mark.parametrize(("env", "role"), CASES, ids=IDS)
def test_endpoint_published_in_ssm(env: str, role: Role) -> None:
    param = template(env, role)["Resources"]["DbEndpointParameter"]["Properties"]
    assert param["Name"] == f"/trading/{environment(env).suffix}/{role.value}/db-endpoint"
    assert param["Value"] == {"Fn::GetAtt": ["DbCluster", "Endpoint.Address"]}
