"""E9004: a server access log target bucket lets the logging service write, scoped."""

from __future__ import annotations

import json
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import properties, referenced, resources_of
from trading_dr.rules import CATALOGUE

LOGGING_SERVICE = "logging.s3.amazonaws.com"


class S3AccessLogDelivery(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["S3AccessLogDelivery"]
    description = (
        "A bucket that receives server access logs needs a bucket policy that allows "
        "s3:PutObject to logging.s3.amazonaws.com with aws:SourceAccount and aws:SourceArn "
        "covering every source bucket; ACL grants are ignored under BucketOwnerEnforced "
        "(PutBucketLogging: 'Permissions can only be granted using policies')"
    )
    tags = ["resources", "s3", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        buckets = dict(resources_of(template, "AWS::S3::Bucket"))
        sources: dict[str, list[str]] = {}
        for logical, resource in buckets.items():
            logging = properties(resource).get("LoggingConfiguration")
            if isinstance(logging, dict):
                target = referenced(logging.get("DestinationBucketName"))
                if target in buckets:
                    sources.setdefault(target, []).append(logical)
        policies = {
            referenced(properties(policy).get("Bucket")): (logical, properties(policy))
            for logical, policy in resources_of(template, "AWS::S3::BucketPolicy")
        }
        matches = []
        for target, logging_buckets in sources.items():
            found = policies.get(target)
            statements = _statements(found[1]) if found else []
            grants = [s for s in statements if _allows_logging_service(s)]
            path = ["Resources", found[0] if found else target]
            if not grants:
                matches.append(
                    RuleMatch(
                        path,
                        f"{target} receives server access logs from {', '.join(logging_buckets)} "
                        f"but no bucket policy allows s3:PutObject to {LOGGING_SERVICE}",
                    )
                )
                continue
            for grant in grants:
                matches.extend(
                    RuleMatch(path, f"{target}: the {LOGGING_SERVICE} statement {problem}")
                    for problem in _scope_problems(grant, logging_buckets, buckets)
                )
        return matches


def _statements(props: dict[str, Any]) -> list[dict[str, Any]]:
    document = props.get("PolicyDocument")
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    statements = [statements] if isinstance(statements, dict) else statements
    return [s for s in statements if isinstance(s, dict)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allows_logging_service(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
    actions = _as_list(statement.get("Action", []))
    return (
        statement.get("Effect") == "Allow"
        and LOGGING_SERVICE in services
        and any(a in ("s3:PutObject", "s3:*") for a in actions)
    )


def _condition_values(statement: dict[str, Any], key: str) -> list[Any]:
    condition = statement.get("Condition")
    values: list[Any] = []
    for operator in condition.values() if isinstance(condition, dict) else []:
        if isinstance(operator, dict) and key in operator:
            values.extend(_as_list(operator[key]))
    return values


def _scope_problems(
    grant: dict[str, Any], sources: list[str], buckets: dict[str, dict[str, Any]]
) -> list[str]:
    problems = []
    if not _condition_values(grant, "aws:SourceAccount"):
        problems.append("has no aws:SourceAccount condition")
    arns = _condition_values(grant, "aws:SourceArn")
    text = json.dumps(arns, default=str)
    for source in sources:
        name = properties(buckets[source]).get("BucketName")
        name_text = name.get("Fn::Sub") if isinstance(name, dict) else name
        named = isinstance(name_text, str) and name_text in text
        if f'"{source}"' not in text and not named:
            problems.append(f"has no aws:SourceArn condition that covers {source}")
    return problems
