"""Bootstrap (once per account): StackSet roles and the per-region artifact buckets.

Self-managed StackSets need `AWSCloudFormationStackSetAdministrationRole` (assumed by
CloudFormation, may only assume the execution role) and, in each target account,
`AWSCloudFormationStackSetExecutionRole`. The execution role holds what the resource
handlers of the rendered templates' types declare they need (`execution_policy`), not
AdministratorAccess, in customer managed policies that every bootstrap brings up to date
(created, new default version, attached, obsolete ones detached, the inline policy of
earlier versions removed); `plan` lists those changes without making them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from awacs.aws import Action as IamAction
from awacs.aws import Allow, PolicyDocument, Principal, Statement
from botocore.exceptions import ClientError

from trading_dr.config import Environment
from trading_dr.deploy.aws import ADMINISTRATION_ROLE, EXECUTION_ROLE, Clients
from trading_dr.deploy.execution_policy import (
    POLICY_PATH,
    POLICY_PREFIX,
    canonical,
    policy_documents,
    required_actions,
)
from trading_dr.deploy.plan import artifact_bucket_name, stages
from trading_dr.deploy.retry import Pacing, call, error_code

MAX_POLICY_VERSIONS = 5  # IAM keeps five versions of a managed policy


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


def _ensure_role(iam: Any, pacing: Pacing, name: str, trust: str, policy: str | None) -> bool:
    """Create the role (with `policy` inline, if given) unless it exists."""
    if _role_exists(iam, pacing, name):
        return False
    call(pacing, iam.create_role, RoleName=name, AssumeRolePolicyDocument=trust)
    if policy is not None:
        call(
            pacing,
            iam.put_role_policy,
            RoleName=name,
            PolicyName=f"{name}Policy",
            PolicyDocument=policy,
        )
    return True


def execution_documents(env: Environment, templates: Mapping[str, bytes]) -> dict[str, Any]:
    """The execution role's managed policies (name -> document) for these templates."""
    regions = {s.role.value: s.region for s in stages(env) if s.role is not None}
    return policy_documents(required_actions(templates, regions))


def _get_or_none(pacing: Pacing, function: Any, **kwargs: Any) -> Any:
    try:
        return call(pacing, function, **kwargs)
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise


def _new_version(iam: Any, pacing: Pacing, arn: str, document: str) -> None:
    """A new default version; IAM keeps at most 5, so the oldest other one goes first."""
    versions = call(pacing, iam.list_policy_versions, PolicyArn=arn)["Versions"]
    if len(versions) >= MAX_POLICY_VERSIONS:
        oldest = min(
            (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
        )
        call(pacing, iam.delete_policy_version, PolicyArn=arn, VersionId=oldest["VersionId"])
    call(
        pacing, iam.create_policy_version, PolicyArn=arn, PolicyDocument=document, SetAsDefault=True
    )


def sync_execution_policies(
    iam: Any,
    pacing: Pacing,
    account: str,
    partition: str,
    documents: Mapping[str, Any],
    apply: bool,
) -> list[str]:
    """Bring the execution role's policies in `account` to `documents`; returns each change
    (made if `apply`, else only found). The role must exist when `apply` is True."""
    changes: list[str] = []
    role_exists = _role_exists(iam, pacing, EXECUTION_ROLE)
    for name, document in documents.items():
        arn = f"arn:{partition}:iam::{account}:policy{POLICY_PATH}{name}"
        changes += _sync_policy(iam, pacing, (account, name, arn), document, apply)
    changes += _sync_attachments(
        iam, pacing, account, partition, set(documents), role_exists, apply
    )
    return changes


def _sync_policy(
    iam: Any, pacing: Pacing, policy: tuple[str, str, str], document: Any, apply: bool
) -> list[str]:
    """Create the managed policy (account, name, arn), or give it a new default version if
    its document differs."""
    account, name, arn = policy
    changes: list[str] = []
    text = json.dumps(document, separators=(",", ":"))
    found = _get_or_none(pacing, iam.get_policy, PolicyArn=arn)
    if found is None:
        changes.append(f"policy {name} in {account}: create")
        if apply:
            call(
                pacing,
                iam.create_policy,
                PolicyName=name,
                Path=POLICY_PATH,
                PolicyDocument=text,
            )
        return changes
    current = call(
        pacing,
        iam.get_policy_version,
        PolicyArn=arn,
        VersionId=found["Policy"]["DefaultVersionId"],
    )["PolicyVersion"]["Document"]
    if canonical(current) != canonical(document):
        had = {a for s in canonical(current) for a in s.get("Action", [])}
        wanted = set(document["Statement"][0]["Action"])
        changes.append(
            f"policy {name} in {account}: update (+{len(wanted - had)} "
            f"-{len(had - wanted)} actions)"
        )
        if apply:
            _new_version(iam, pacing, arn, text)
    return changes


def _sync_attachments(
    iam: Any, pacing: Pacing, account: str, partition: str, names: set[str],
    role_exists: bool, apply: bool,
) -> list[str]:  # fmt: skip
    """Attach the policies the role lacks, detach the project's policies no longer needed,
    and remove the inline policy of earlier versions."""
    changes: list[str] = []
    attached: set[str] = set()
    if role_exists:
        page = call(
            pacing,
            iam.list_attached_role_policies,
            RoleName=EXECUTION_ROLE,
            PathPrefix=POLICY_PATH,
        )
        attached = {p["PolicyName"] for p in page.get("AttachedPolicies", [])}
    for name in sorted(names - attached):
        changes.append(f"policy {name} in {account}: attach to {EXECUTION_ROLE}")
        if apply:
            arn = f"arn:{partition}:iam::{account}:policy{POLICY_PATH}{name}"
            call(pacing, iam.attach_role_policy, RoleName=EXECUTION_ROLE, PolicyArn=arn)
    for name in sorted(n for n in attached - names if n.startswith(POLICY_PREFIX)):
        changes.append(f"policy {name} in {account}: detach (no longer needed)")
        if apply:
            arn = f"arn:{partition}:iam::{account}:policy{POLICY_PATH}{name}"
            call(pacing, iam.detach_role_policy, RoleName=EXECUTION_ROLE, PolicyArn=arn)
    legacy = f"{EXECUTION_ROLE}Policy"  # the inline policy of earlier versions
    if role_exists and _get_or_none(
        pacing, iam.get_role_policy, RoleName=EXECUTION_ROLE, PolicyName=legacy
    ):
        changes.append(f"inline policy {legacy} in {account}: remove (replaced)")
        if apply:
            call(pacing, iam.delete_role_policy, RoleName=EXECUTION_ROLE, PolicyName=legacy)
    return changes


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
    documents = execution_documents(env, templates)
    partition = clients.partition()
    for account in env.accounts:
        target_iam = clients.client("iam", home, account)
        trust = _trust(Principal("AWS", f"arn:{partition}:iam::{admin_account}:root"))
        if _ensure_role(target_iam, pacing, EXECUTION_ROLE, trust, None):
            created.append(f"role {EXECUTION_ROLE} in {account}")
        created += sync_execution_policies(
            target_iam, pacing, account, partition, documents, apply=True
        )
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


def missing_bootstrap(
    clients: Clients,
    pacing: Pacing,
    env: Environment,
    templates: Mapping[str, bytes] | None = None,
) -> list[str]:
    """Read-only: the roles, artifact buckets and (given the templates) execution role
    policy changes `ensure_bootstrap` would make."""
    missing: list[str] = []
    home = env.primary.region
    if not _role_exists(clients.client("iam", home), pacing, ADMINISTRATION_ROLE):
        missing.append(f"role {ADMINISTRATION_ROLE}")
    documents = execution_documents(env, templates) if templates is not None else None
    for account in env.accounts:
        iam = clients.client("iam", home, account)
        if not _role_exists(iam, pacing, EXECUTION_ROLE):
            missing.append(f"role {EXECUTION_ROLE} in {account}")  # with its policies
        elif documents is not None:
            missing += sync_execution_policies(
                iam, pacing, account, clients.partition(), documents, apply=False
            )
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
