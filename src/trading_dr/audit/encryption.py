"""Encryption: every data store with how it is encrypted at rest and with which key."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from trading_dr.audit.model import Json, Section, Templates, of_type, props, show, table
from trading_dr.audit.names import Namer

Name = Callable[[Json], str]  # a template value named by what it is (audit.names)
Extractor = Callable[[Json, Name], tuple[str, str]]  # properties -> (encryption, key)

NOT_ENCRYPTED = "NOT ENCRYPTED"


def _flag(enabled: object, what: str) -> str:
    return what if enabled is True or enabled == "true" else NOT_ENCRYPTED


def _aurora(p: Json, name: Name) -> tuple[str, str]:
    secret = p.get("MasterUserSecret", {})
    key = name(p.get("KmsKeyId", "AWS-managed aws/rds"))
    if secret:
        key += f"; master secret: {name(secret.get('KmsKeyId', 'aws/secretsmanager'))}"
    return _flag(p.get("StorageEncrypted"), "storage encrypted (KMS)"), key


def _global_cluster(p: Json, name: Name) -> tuple[str, str]:
    return _flag(p.get("StorageEncrypted"), "storage encrypted"), "each member's own regional key"


def _global_table(p: Json, name: Name) -> tuple[str, str]:
    sse = p.get("SSESpecification", {})
    keys = [
        f"{name(r.get('Region'))}: {name(r['SSESpecification']['KMSMasterKeyId'])}"
        for r in p.get("Replicas", [])
        if "KMSMasterKeyId" in r.get("SSESpecification", {})
    ]
    if not sse.get("SSEEnabled"):
        return "DynamoDB-owned key (default)", "AWS owned"
    return f"SSE {sse.get('SSEType', 'KMS')}", "; ".join(keys) or "aws/dynamodb"


def _table(p: Json, name: Name) -> tuple[str, str]:
    sse = p.get("SSESpecification", {})
    if not sse.get("SSEEnabled"):
        return "DynamoDB-owned key (default)", "AWS owned"
    return f"SSE {sse.get('SSEType', 'KMS')}", name(sse.get("KMSMasterKeyId", "aws/dynamodb"))


def _bucket(p: Json, name: Name) -> tuple[str, str]:
    rules = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    if not rules:
        return "SSE-S3 (S3 default since 2023)", "AWS owned"
    default = rules[0].get("ServerSideEncryptionByDefault", {})
    bucket_key = ", bucket key" if rules[0].get("BucketKeyEnabled") else ""
    key = name(default.get("KMSMasterKeyID", "AWS owned"))
    return f"{default.get('SSEAlgorithm')}{bucket_key}", key


def _queue(p: Json, name: Name) -> tuple[str, str]:
    if "KmsMasterKeyId" in p:
        return "SSE-KMS", name(p["KmsMasterKeyId"])
    return _flag(p.get("SqsManagedSseEnabled"), "SSE-SQS"), "SQS owned"


def _kms_property(name: str) -> Extractor:
    def extract(p: Json, named: Name) -> tuple[str, str]:
        return ("SSE-KMS", named(p[name])) if name in p else (NOT_ENCRYPTED, "-")

    return extract


def _state_machine(p: Json, name: Name) -> tuple[str, str]:
    config = p.get("EncryptionConfiguration", {})
    if config.get("Type") == "CUSTOMER_MANAGED_KMS_KEY":
        return "customer managed key", name(config.get("KmsKeyId"))
    return "AWS owned key", "AWS owned"


def _function(p: Json, name: Name) -> tuple[str, str]:
    key = name(p["KmsKeyArn"]) if "KmsKeyArn" in p else "aws/lambda"
    return "environment variables (KMS)", key


def _parameter(p: Json, name: Name) -> tuple[str, str]:
    if p.get("Type") == "SecureString":
        return "SecureString", name(p.get("KeyId", "aws/ssm"))
    return f"{p.get('Type')} (plaintext: holds no secret)", "-"


EXTRACTORS: dict[str, Extractor] = {
    "AWS::RDS::GlobalCluster": _global_cluster,
    "AWS::RDS::DBCluster": _aurora,
    "AWS::DynamoDB::GlobalTable": _global_table,
    "AWS::DynamoDB::Table": _table,
    "AWS::S3::Bucket": _bucket,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _kms_property("KmsMasterKeyId"),
    "AWS::Logs::LogGroup": _kms_property("KmsKeyId"),
    "AWS::SecretsManager::Secret": _kms_property("KmsKeyId"),
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::Lambda::Function": _function,
    "AWS::SSM::Parameter": _parameter,
}


def encryption_rows(templates: Templates) -> list[tuple[str, str, str, str, str]]:
    rows = []
    namer = Namer(templates)
    for role, logical, resource in of_type(templates, *EXTRACTORS):
        at_rest, key = EXTRACTORS[resource["Type"]](props(resource), partial(namer.name, role))
        rows.append((role.value, logical, resource["Type"], at_rest, key))
    return rows


def encryption_section(templates: Templates) -> Section:
    rows = encryption_rows(templates)
    keys = [
        (
            role.value,
            logical,
            show(props(resource).get("KeySpec", "SYMMETRIC_DEFAULT")),
            "yes" if props(resource).get("EnableKeyRotation") else "NO",
            show(props(resource).get("Description", "")),
        )
        for role, logical, resource in of_type(templates, "AWS::KMS::Key")
    ]
    missing = [row for row in rows if row[3] == NOT_ENCRYPTED]
    return Section(
        "Encryption at rest",
        (
            f"{len(rows)} data stores; {len(missing)} not encrypted. Keys are customer managed "
            "KMS keys of the template's own region unless the row says otherwise.",
        ),
        (
            table(("template", "store", "type", "encryption", "key"), rows, "data stores"),
            table(("template", "key", "spec", "rotation", "description"), keys, "KMS keys"),
        ),
        findings=tuple(f"Not encrypted at rest: {row[0]}/{row[1]} ({row[2]})" for row in missing)
        + tuple(f"KMS key without rotation: {row[0]}/{row[1]}" for row in keys if row[3] == "NO"),
    )
