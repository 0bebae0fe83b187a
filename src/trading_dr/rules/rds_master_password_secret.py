"""E9002: a cluster's master password comes from a generated secret that Aurora accepts."""

from __future__ import annotations

import re
from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from trading_dr.cfn_template import properties, resources_of
from trading_dr.rules import CATALOGUE

# CreateDBCluster MasterUserPassword: "Must contain from 8 to 41 characters. Can contain any
# printable ASCII character except "/", """, or "@"." Space is excluded too: the generated
# password goes into connection strings.
REFUSED = ("/", '"', "@", " ")
MIN_LENGTH, MAX_LENGTH = 8, 41
SECRET_IN_SUB = re.compile(
    r"\{\{resolve:secretsmanager:\$\{([A-Za-z0-9]+)\}(?::SecretString:([^:}]+))?"
)


class RdsMasterPasswordSecret(CloudFormationLintRule):  # type: ignore[misc]
    id, shortdesc, source_url = CATALOGUE["RdsMasterPasswordSecret"]
    description = (
        "MasterUserPassword must be a {{resolve:secretsmanager:...}} reference to a secret of "
        "this template whose GenerateSecretString makes 8 to 41 characters without '/', '\"', "
        "'@' or space (CreateDBCluster MasterUserPassword constraints)"
    )
    tags = ["resources", "rds", "secretsmanager", "trading-dr"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        secrets = dict(resources_of(template, "AWS::SecretsManager::Secret"))
        matches = []
        for logical, resource in resources_of(template, "AWS::RDS::DBCluster"):
            password = properties(resource).get("MasterUserPassword")
            if password is None:
                continue
            path = ["Resources", logical, "Properties", "MasterUserPassword"]
            sub = password.get("Fn::Sub") if isinstance(password, dict) else None
            text = sub[0] if isinstance(sub, list) and sub else sub
            found = SECRET_IN_SUB.search(text) if isinstance(text, str) else None
            if found is None or found.group(1) not in secrets:
                matches.append(
                    RuleMatch(
                        path,
                        f"{logical}: MasterUserPassword is not a Fn::Sub of "
                        "'{{resolve:secretsmanager:${Secret}:SecretString:password}}' naming an "
                        "AWS::SecretsManager::Secret of this template",
                    )
                )
                continue
            secret = found.group(1)
            problems = _generation_problems(properties(secrets[secret]), found.group(2))
            matches.extend(
                RuleMatch(
                    ["Resources", secret, "Properties", "GenerateSecretString"],
                    f"{secret} (the master password of {logical}): {problem}",
                )
                for problem in problems
            )
        return matches


def _generation_problems(props: dict[str, Any], key: str | None) -> list[str]:
    generate = props.get("GenerateSecretString")
    if not isinstance(generate, dict):
        return ["has no GenerateSecretString: the password must be generated, not typed"]
    problems = []
    excluded = generate.get("ExcludeCharacters", "")
    missing = [c for c in REFUSED if c != " " and not (isinstance(excluded, str) and c in excluded)]
    if missing:
        problems.append(f"ExcludeCharacters must exclude {' '.join(missing)} (Aurora refuses them)")
    if generate.get("IncludeSpace") in (True, "true"):
        problems.append("IncludeSpace must not be true")
    length = generate.get("PasswordLength", 32)
    if not isinstance(length, int) or not MIN_LENGTH <= length <= MAX_LENGTH:
        problems.append(f"PasswordLength must be {MIN_LENGTH} to {MAX_LENGTH} (Aurora's limits)")
    if key is not None and generate.get("GenerateStringKey") != key:
        problems.append(f"GenerateStringKey must be '{key}', the key MasterUserPassword reads")
    return problems
