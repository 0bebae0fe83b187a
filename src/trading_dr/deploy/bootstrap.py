"""Bootstrap (once per account): StackSet roles and the per-region artifact buckets.

Self-managed StackSets need `AWSCloudFormationStackSetAdministrationRole` (assumed by
CloudFormation, may only assume the execution role) and, in each target account,
`AWSCloudFormationStackSetExecutionRole`. The execution role is scoped to the services
the rendered templates use (derived from their resource types), not AdministratorAccess.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from awacs.aws import Action as IamAction
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from botocore.exceptions import ClientError

from trading_dr.config import Environment
from trading_dr.deploy.aws import ADMINISTRATION_ROLE, EXECUTION_ROLE, Clients
from trading_dr.deploy.plan import artifact_bucket_name, parse_template
from trading_dr.deploy.retry import Pacing, call, error_code

# CloudFormation service names whose IAM prefix is not their lower-cased name.
IAM_PREFIXES = {
    "StepFunctions": "states",
    "CertificateManager": "acm",
    "ElasticLoadBalancingV2": "elasticloadbalancing",
    "Route53RecoveryControl": "route53-recovery-control-config",
    "Route53RecoveryReadiness": "route53-recovery-readiness",
    "ApiGateway": "apigateway",
}
# Always needed by a stack instance: read its template, publish events, pass roles.
BASE_PREFIXES = ("cloudformation", "s3", "sns", "iam", "kms")


def service_prefixes(templates: Iterable[bytes]) -> list[str]:
    prefixes = set(BASE_PREFIXES)
    for body in templates:
        resources = parse_template(body).get("Resources") or {}
        for resource in resources.values():
            service = str(resource.get("Type", "")).split("::")[1:2]
            if service:
                prefixes.add(IAM_PREFIXES.get(service[0], service[0].lower()))
    return sorted(prefixes)


def _trust(principal: Principal) -> str:
    return str(
        PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Effect=Allow, Principal=principal, Action=[IamAction("sts", "AssumeRole")]
                )
            ],
        ).to_json()
    )


def administration_policy() -> str:
    return str(
        PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Effect=Allow,
                    Action=[IamAction("sts", "AssumeRole")],
                    Resource=[f"arn:aws:iam::*:role/{EXECUTION_ROLE}"],
                )
            ],
        ).to_json()
    )


def execution_policy(prefixes: Iterable[str]) -> str:
    return str(
        PolicyDocument(
            Version="2012-10-17",
            Statement=[
                Statement(
                    Sid="ServicesOfTheTemplates",
                    Effect=Allow,
                    Action=[IamAction(prefix, "*") for prefix in prefixes],
                    Resource=["*"],
                )
            ],
        ).to_json()
    )


def tls_only_policy(bucket: str) -> str:
    arn = f"arn:aws:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def _role_exists(iam: Any, pacing: Pacing, name: str) -> bool:
    try:
        call(pacing, iam.get_role, RoleName=name)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return False
        raise
    return True


def _ensure_role(iam: Any, pacing: Pacing, name: str, trust: str, policy: str) -> bool:
    if _role_exists(iam, pacing, name):
        return False
    call(pacing, iam.create_role, RoleName=name, AssumeRolePolicyDocument=trust)
    call(
        pacing,
        iam.put_role_policy,
        RoleName=name,
        PolicyName=f"{name}Policy",
        PolicyDocument=policy,
    )
    return True


def _ensure_bucket(s3: Any, pacing: Pacing, bucket: str, region: str) -> bool:
    try:
        call(pacing, s3.head_bucket, Bucket=bucket)
        return False
    except ClientError as exc:
        if error_code(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    call(pacing, s3.create_bucket, **kwargs)
    call(
        pacing,
        s3.put_bucket_versioning,
        Bucket=bucket,
        VersioningConfiguration={"Status": "Enabled"},
    )
    call(
        pacing,
        s3.put_bucket_encryption,
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    call(
        pacing,
        s3.put_public_access_block,
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    call(pacing, s3.put_bucket_policy, Bucket=bucket, Policy=tls_only_policy(bucket))
    return True


def ensure_bootstrap(
    clients: Clients, pacing: Pacing, env: Environment, templates: Mapping[str, bytes]
) -> list[str]:
    """Create what is missing; returns what was created (empty: nothing changed)."""
    created: list[str] = []
    admin_account = clients.caller_account()
    home = env.primary.region
    iam = clients.client("iam", home)
    admin_trust = _trust(Principal("Service", "cloudformation.amazonaws.com"))
    if _ensure_role(iam, pacing, ADMINISTRATION_ROLE, admin_trust, administration_policy()):
        created.append(f"role {ADMINISTRATION_ROLE}")
    execution = execution_policy(service_prefixes(templates.values()))
    for account in env.accounts:
        target_iam = clients.client("iam", home, account)
        trust = _trust(Principal("AWS", f"arn:aws:iam::{admin_account}:root"))
        if _ensure_role(target_iam, pacing, EXECUTION_ROLE, trust, execution):
            created.append(f"role {EXECUTION_ROLE} in {account}")
        # Per account and region: a function's code must be in its own region.
        for region in (env.primary.region, env.secondary.region):
            bucket = artifact_bucket_name(env, account, region)
            if _ensure_bucket(clients.client("s3", region, account), pacing, bucket, region):
                created.append(f"bucket {bucket}")
    return created


def _bucket_exists(s3: Any, pacing: Pacing, bucket: str) -> bool:
    try:
        call(pacing, s3.head_bucket, Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchBucket", "NotFound"}:
            return False
        raise
    return True


def missing_bootstrap(clients: Clients, pacing: Pacing, env: Environment) -> list[str]:
    """Read-only: the roles and artifact buckets `ensure_bootstrap` would create."""
    missing: list[str] = []
    home = env.primary.region
    if not _role_exists(clients.client("iam", home), pacing, ADMINISTRATION_ROLE):
        missing.append(f"role {ADMINISTRATION_ROLE}")
    for account in env.accounts:
        if not _role_exists(clients.client("iam", home, account), pacing, EXECUTION_ROLE):
            missing.append(f"role {EXECUTION_ROLE} in {account}")
        for region in (env.primary.region, env.secondary.region):
            bucket = artifact_bucket_name(env, account, region)
            if not _bucket_exists(clients.client("s3", region, account), pacing, bucket):
                missing.append(f"bucket {bucket}")
    return missing


def bootstrap_resources(env: Environment) -> list[str]:
    """Everything bootstrap makes for `env`, named as `missing_bootstrap` names it."""
    items = [f"role {ADMINISTRATION_ROLE}"]
    for account in env.accounts:
        items.append(f"role {EXECUTION_ROLE} in {account}")
        items += [
            f"bucket {artifact_bucket_name(env, account, region)}"
            for region in (env.primary.region, env.secondary.region)
        ]
    return items


def present_bootstrap(clients: Clients, pacing: Pacing, env: Environment) -> list[str]:
    """Read-only: the bootstrap roles and buckets that exist (destroy leaves them)."""
    missing = set(missing_bootstrap(clients, pacing, env))
    return [item for item in bootstrap_resources(env) if item not in missing]
