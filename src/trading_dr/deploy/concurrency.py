"""Lambda concurrency preflight: can each region's account hold the templates' reservations?

Lambda lets functions reserve concurrency only while at least 100 executions stay
unreserved in the account's regional limit ("You can reserve up to the Unreserved account
concurrency value that is shown, minus 100", Lambda Developer Guide, reserved
concurrency; PutFunctionConcurrency). A new account's limit can be as low as 10, so a
stack whose functions reserve more fails half-way with "Specified
ReservedConcurrentExecutions for function decreases account's
UnreservedConcurrentExecution below its minimum value of [100]".

Per region the check reads `GetAccountSettings` (ConcurrentExecutions,
UnreservedConcurrentExecutions) and what the templates' functions already reserve
(`GetFunctionConcurrency`: a redeploy does not need their share twice), and compares
with the sum of `ReservedConcurrentExecutions` in the templates deployed there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from trading_dr.config import Environment
from trading_dr.deploy.aws import Clients
from trading_dr.deploy.plan import parse_template, stages
from trading_dr.deploy.retry import Pacing, call, error_code

MINIMUM_UNRESERVED = 100
# Service Quotas code of "Concurrent executions" (AWS Lambda).
QUOTA_CODE = "L-B99A9384"


@dataclass(frozen=True)
class RegionCapacity:
    region: str
    account: str
    limit: int
    unreserved: int
    held: int  # reserved today by the templates' own functions
    needed: int
    functions: dict[str, int] = field(default_factory=dict)

    @property
    def shortfall(self) -> int:
        return max(0, self.needed - (self.unreserved + self.held - MINIMUM_UNRESERVED))

    def line(self) -> str:
        base = (
            f"lambda concurrency in {self.account}/{self.region}: templates reserve "
            f"{self.needed}, account limit {self.limit}, unreserved {self.unreserved}"
            f" (+{self.held} held by these functions), {MINIMUM_UNRESERVED} must stay free"
        )
        if not self.shortfall:
            return f"{base}: ok"
        return (
            f"{base}: short by {self.shortfall}; fix: raise the Lambda 'Concurrent executions' "
            f"quota in {self.region} to at least {self.limit + self.shortfall} (Service "
            f"Quotas, quota code {QUOTA_CODE}), or lower ReservedConcurrentExecutions"
        )


def reservations(env: Environment, files: Mapping[str, bytes]) -> dict[str, dict[str, int]]:
    """region -> {function name (or logical id) -> reserved concurrency} of the templates."""
    by_region: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    for stage in stages(env):
        if stage.role is None or stage.role.value in seen:
            continue  # the link stage re-deploys the primary's template
        seen.add(stage.role.value)
        body = files.get(f"templates/{stage.role.value}.yaml")
        resources = (parse_template(body).get("Resources") or {}) if body else {}
        for logical_id, resource in sorted(resources.items()):
            properties: dict[str, Any] = resource.get("Properties") or {}
            reserved = properties.get("ReservedConcurrentExecutions")
            if resource.get("Type") != "AWS::Lambda::Function" or not isinstance(reserved, int):
                continue
            name = properties.get("FunctionName")
            key = name if isinstance(name, str) else f"<{logical_id}>"  # name chosen by AWS
            by_region.setdefault(stage.region, {})[key] = reserved
    return by_region


def _held(lambda_client: Any, pacing: Pacing, names: list[str]) -> int:
    held = 0
    for name in names:
        try:
            found = call(pacing, lambda_client.get_function_concurrency, FunctionName=name)
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                continue  # not deployed yet
            raise
        held += int(found.get("ReservedConcurrentExecutions") or 0)
    return held


def check(
    clients: Clients, pacing: Pacing, env: Environment, files: Mapping[str, bytes]
) -> list[RegionCapacity]:
    """Each (account, region) the templates reserve concurrency in, read-only."""
    found: list[RegionCapacity] = []
    for region, functions in sorted(reservations(env, files).items()):
        for account in env.accounts:
            client = clients.client("lambda", region, account)
            limit = call(pacing, client.get_account_settings)["AccountLimit"]
            unreserved, needed = (
                int(limit["UnreservedConcurrentExecutions"]),
                sum(functions.values()),
            )
            held = 0
            if needed > unreserved - MINIMUM_UNRESERVED:
                # Only then does it matter what these functions hold already (a redeploy):
                # a no-change re-run stays at one read per region.
                held = _held(client, pacing, [n for n in functions if not n.startswith("<")])
            found.append(
                RegionCapacity(
                    region, account, int(limit["ConcurrentExecutions"]), unreserved, held,
                    needed, dict(functions),
                )
            )  # fmt: skip
    return found


def preflight(
    clients: Clients, pacing: Pacing, env: Environment, files: Mapping[str, bytes]
) -> list[str]:
    """The shortfall lines (with their fix) of every region; empty when all fit."""
    return [c.line() for c in check(clients, pacing, env, files) if c.shortfall]
