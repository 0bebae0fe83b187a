"""E9010: a KMS key that encrypts a log group lets CloudWatch Logs of that region use it."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import properties, referenced, resources_of
from trading_dr.rules import CATALOGUE

# What CloudWatch Logs calls on the key (the documented key policy grants these).
NEEDED = ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey")


class LogsKmsKeyPolicy(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["LogsKmsKeyPolicy"]
    description = (
        "A log group encrypted with a KMS key of this template is created only if the key "
        "policy allows the service principal logs.<region>.amazonaws.com to use the key "
        "(kms:Encrypt, kms:Decrypt, kms:GenerateDataKey at least)"
    )
    tags = ["resources", "logs", "kms", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        keys = dict(resources_of(template, "AWS::KMS::Key"))
        matches = []
        for logical, group in resources_of(template, "AWS::Logs::LogGroup"):
            key = referenced(properties(group).get("KmsKeyId"))
            if key not in keys:
                continue  # a key of another template or an ARN: not visible here
            statements = _statements(properties(keys[key]).get("KeyPolicy"))
            for region in cfn.regions:
                granted = _granted(statements, region)
                missing = [a for a in NEEDED if not any(fnmatch.fnmatch(a, g) for g in granted)]
                if missing:
                    matches.append(
                        RuleMatch(
                            ["Resources", key, "Properties", "KeyPolicy"],
                            f"{key} encrypts {logical} but its policy does not allow "
                            f"logs.{region}.amazonaws.com {', '.join(missing)}",
                        )
                    )
        return matches


def _statements(policy: Any) -> list[dict[str, Any]]:
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    statements = [statements] if isinstance(statements, dict) else statements
    return [s for s in statements if isinstance(s, dict) and s.get("Effect") == "Allow"]


def _granted(statements: list[dict[str, Any]], region: str) -> list[str]:
    """Actions the logs service of `region` is allowed (patterns as written)."""
    wanted = (f"logs.{region}.amazonaws.com", "logs.${AWS::Region}.amazonaws.com")
    granted: list[str] = []
    for statement in statements:
        principal = json.dumps(statement.get("Principal", {}), default=str)
        if any(service in principal for service in wanted):
            actions = statement.get("Action", [])
            granted.extend(actions if isinstance(actions, list) else [actions])
    return [a for a in granted if isinstance(a, str)]
