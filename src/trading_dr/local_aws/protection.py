"""Deletion protection in the local AWS: a protected database stops its stack's deletion.

With `DeletionProtection: true`, RDS refuses to delete a cluster, so CloudFormation's
delete of a stack holding one (unless its DeletionPolicy keeps it: Retain,
RetainExceptOnCreate) ends DELETE_FAILED, and the StackSets DeleteStackInstances
operation that asked for it fails and leaves the instance INOPERABLE: "A
DeleteStackInstances operation has failed and left the stack in an unstable state.
Stacks in this state are excluded from further UpdateStackSet operations. You might need
to perform a DeleteStackInstances operation, with RetainStacks set to true"
(CloudFormation API reference, StackInstanceSummary / StackInstance status).

Here the stand-in clusters (moto does not model them) keep their properties, so:
- `protected(stack)` lists what would stop the stack's deletion;
- `ModifyDBCluster` on a stand-in cluster changes its DeletionProtection, as the RDS API
  does for a real one (the documented way to lift it before deleting).
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation.models import Stack, cloudformation_backends
from moto.core.responses import ActionResult
from moto.rds.responses import RDSResponse

from trading_dr.local_aws.standins import StandIn

KEPT = frozenset({"Retain", "RetainExceptOnCreate"})
REFUSAL = "Cannot delete protected Cluster, please disable deletion protection and try again."


def _on(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def protected(stack: Stack) -> list[tuple[str, str]]:
    """(logical id, type) of the resources whose deletion protection stops the stack's
    deletion."""
    parsed: dict[str, Any] = stack.resource_map._parsed_resources
    declared: dict[str, Any] = stack.resource_map._resource_json_map
    found = []
    for logical_id, model in sorted(parsed.items()):
        resource = declared.get(logical_id)
        if not isinstance(model, StandIn) or resource is None:
            continue
        if resource.get("DeletionPolicy") in KEPT:
            continue  # CloudFormation leaves it in place: nothing to refuse
        if _on(model.properties.get("DeletionProtection")):
            found.append((logical_id, str(resource.get("Type"))))
    return found


def _standin_cluster(account: str, region: str, identifier: str) -> StandIn | None:
    for stack in cloudformation_backends[account][region].stacks.values():
        for model in stack.resource_map._parsed_resources.values():
            if (
                isinstance(model, StandIn)
                and model.resource_type == "AWS::RDS::DBCluster"
                and model.name == identifier
            ):
                return model
    return None


def install() -> None:
    """Idempotent; called by `extension.install()`."""
    if getattr(RDSResponse, "_trading_dr_protection", False):
        return
    modify = RDSResponse.modify_db_cluster

    def modify_db_cluster(self: Any) -> Any:
        identifier = str(self.params.get("DBClusterIdentifier"))
        cluster = _standin_cluster(self.current_account, self.region, identifier)
        if cluster is None or "DeletionProtection" not in self.params:
            return modify(self)
        cluster.properties["DeletionProtection"] = _on(self.params["DeletionProtection"])
        return ActionResult(
            {
                "DBCluster": {
                    "DBClusterIdentifier": identifier,
                    "DeletionProtection": cluster.properties["DeletionProtection"],
                    "Status": "available",
                }
            }
        )

    RDSResponse.modify_db_cluster = modify_db_cluster  # type: ignore[method-assign]
    RDSResponse._trading_dr_protection = True  # type: ignore[attr-defined]
