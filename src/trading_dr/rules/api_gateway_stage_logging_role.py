"""E9008: a logging API Gateway stage waits for the account's CloudWatch role."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import depends_on, properties, resources_of
from trading_dr.rules import CATALOGUE


class ApiGatewayStageLoggingRole(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["ApiGatewayStageLoggingRole"]
    description = (
        "API Gateway writes execution and access logs only once the region's account "
        "settings name a CloudWatch role; a stage that turns logging on before the "
        "template's AWS::ApiGateway::Account is set fails with 'CloudWatch Logs role ARN "
        "must be set in account settings to enable logging'. Such a stage must DependsOn "
        "the Account resource, which must set CloudWatchRoleArn"
    )
    tags = ["resources", "apigateway", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        accounts = dict(resources_of(template, "AWS::ApiGateway::Account"))
        if not accounts:
            return []  # set outside this template: nothing to order against
        matches = [
            RuleMatch(
                ["Resources", logical, "Properties"],
                f"{logical} sets no CloudWatchRoleArn: API Gateway cannot write logs",
            )
            for logical, account in accounts.items()
            if "CloudWatchRoleArn" not in properties(account)
        ]
        for logical, stage in resources_of(template, "AWS::ApiGateway::Stage"):
            if _logs(properties(stage)) and not depends_on(stage) & set(accounts):
                matches.append(
                    RuleMatch(
                        ["Resources", logical],
                        f"{logical} turns logging on but does not DependsOn "
                        f"{', '.join(sorted(accounts))}, the account setting that names the "
                        "CloudWatch role",
                    )
                )
        return matches


def _logs(props: dict[str, Any]) -> bool:
    if "AccessLogSetting" in props:
        return True
    settings = props.get("MethodSettings")
    return any(
        isinstance(s, dict) and s.get("LoggingLevel") not in (None, "OFF")
        for s in (settings if isinstance(settings, list) else [])
    )
