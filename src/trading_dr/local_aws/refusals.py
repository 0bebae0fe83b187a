"""Where moto accepts what AWS refuses and the project depends on the difference, refuse it
here with AWS's error, so a deploy against the local AWS fails the way a real account would.

Each refusal names the AWS document it comes from. The resource fails as a CloudFormation
resource does (the stack instance's reason carries the error), through the same path as an
injected fault.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = Callable[[dict[str, Any]], str | None]


def _global_member_managed_password(props: dict[str, Any]) -> str | None:
    # Aurora User Guide, "Password management with Amazon Aurora and AWS Secrets Manager",
    # Limitations: not supported for DB clusters that are part of an Aurora global database.
    if (
        "GlobalClusterIdentifier" in props
        and str(props.get("ManageMasterUserPassword")).lower() == "true"
    ):
        return (
            "InvalidParameterCombination: Managing the master user password with Secrets "
            "Manager isn't supported for DB clusters that are part of an Aurora global database"
        )
    return None


def _engine_version(props: dict[str, Any]) -> str | None:
    # RDS refuses to create a cluster on a deprecated or unknown version (the data cfn-lint
    # ships for W3690/E3690; RDS answers InvalidParameterCombination "Cannot find version").
    from trading_dr.engine_data import CREATABLE

    engine, version = props.get("Engine"), props.get("EngineVersion")
    if engine == "aurora-postgresql" and version is not None and str(version) not in CREATABLE:
        return f"InvalidParameterCombination: Cannot find version {version} for {engine}"
    return None


# resource type -> checks of its Properties, in the order AWS would validate them.
REFUSALS: dict[str, tuple[Check, ...]] = {
    "AWS::RDS::DBCluster": (_global_member_managed_password, _engine_version),
    "AWS::RDS::GlobalCluster": (_engine_version,),
}


def refusal(resource_json: dict[str, Any]) -> str | None:
    """AWS's error for this resource definition, or None when AWS would accept it."""
    props = resource_json.get("Properties")
    for check in REFUSALS.get(str(resource_json.get("Type")), ()):
        error = check(props if isinstance(props, dict) else {})
        if error is not None:
            return error
    return None
