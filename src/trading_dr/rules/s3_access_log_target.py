"""E9005: a server access log target bucket uses SSE-S3 and no Object Lock default retention."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import properties, referenced, resources_of
from trading_dr.rules import CATALOGUE


class S3AccessLogTarget(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["S3AccessLogTarget"]
    description = (
        "Server access logs are delivered only to a destination bucket whose default "
        "encryption is SSE-S3 (AES256) and that has no default retention period of S3 "
        "Object Lock"
    )
    tags = ["resources", "s3", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        buckets = dict(resources_of(cfn.template, "AWS::S3::Bucket"))
        targets = set()
        for resource in buckets.values():
            logging = properties(resource).get("LoggingConfiguration")
            if isinstance(logging, dict):
                targets.add(referenced(logging.get("DestinationBucketName")))
        matches = []
        for target in sorted(t for t in targets if t in buckets):
            props = properties(buckets[target])
            path = ["Resources", target, "Properties"]
            for algorithm in _algorithms(props):
                if algorithm != "AES256":
                    matches.append(
                        RuleMatch(
                            [*path, "BucketEncryption"],
                            f"{target} receives server access logs but encrypts with "
                            f"{algorithm}; log delivery supports SSE-S3 (AES256) only",
                        )
                    )
            lock = props.get("ObjectLockConfiguration")
            if isinstance(lock, dict) and isinstance(lock.get("Rule"), dict):
                matches.append(
                    RuleMatch(
                        [*path, "ObjectLockConfiguration"],
                        f"{target} receives server access logs but has an Object Lock "
                        "default retention, which log delivery does not support",
                    )
                )
        return matches


def _algorithms(props: dict[str, Any]) -> list[str]:
    encryption = props.get("BucketEncryption")
    rules = encryption.get("ServerSideEncryptionConfiguration", []) if encryption else []
    found = []
    for rule in rules if isinstance(rules, list) else []:
        default = rule.get("ServerSideEncryptionByDefault", {}) if isinstance(rule, dict) else {}
        if isinstance(default, dict) and isinstance(default.get("SSEAlgorithm"), str):
            found.append(default["SSEAlgorithm"])
    return found
