"""Wait for newly created StackSet roles to become usable before the first operation.

IAM is eventually consistent: a role `CreateRole` just returned may not be assumable
yet ("Changes that I make are not always immediately visible", IAM User Guide,
troubleshooting IAM), and a stack set operation started at once fails with "Account
<id> should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship
to Role 'AWSCloudFormationStackSetAdministrationRole'". After a bootstrap that created a
role, the deployer assumes each account's execution role (regional STS in the primary
region; the role trusts the administration account, the caller's) until that works,
polling like an operation (at most one call per second per role), with progress, for
at most `bound_s` seconds. Then it stops with the fix rather than start an operation
that would fail.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from trading_dr.deploy.aws import EXECUTION_ROLE
from trading_dr.deploy.retry import call, error_code
from trading_dr.errors import OperationFailedError

if TYPE_CHECKING:
    from trading_dr.deploy.deployed import Deployment

BOUND_S = 120.0  # IAM changes usually propagate within seconds; past two minutes, ask
NOT_YET = frozenset({"AccessDenied", "AccessDeniedException"})


def _usable(dep: Deployment, role_arn: str) -> bool:
    sts = dep.clients.client("sts", dep.env.primary.region)
    try:
        call(
            dep.pacing,
            sts.assume_role,
            RoleArn=role_arn,
            RoleSessionName="trading-dr-iam-check",
            DurationSeconds=900,
        )
    except ClientError as exc:
        if error_code(exc) in NOT_YET:
            return False
        raise
    return True


def wait_for_roles(dep: Deployment, bound_s: float | None = None) -> float:
    """Block until every account's execution role can be assumed; seconds waited."""
    bound_s = BOUND_S if bound_s is None else bound_s
    partition = dep.clients.partition()
    waiting = [f"arn:{partition}:iam::{a}:role/{EXECUTION_ROLE}" for a in dep.env.accounts]
    started = time.monotonic()
    for delay in dep.pacing.poll_delays():
        if delay:
            dep.pacing.sleep(delay)
        waiting = [arn for arn in waiting if not _usable(dep, arn)]
        elapsed = time.monotonic() - started
        if not waiting:
            if elapsed:
                dep.progress.update("bootstrap", "usable", f"new roles usable after {elapsed:.1f}s")
            return elapsed
        dep.progress.update(
            "bootstrap",
            "waiting",
            f"IAM: {len(waiting)} new role(s) not usable yet ({elapsed:.0f}s of {bound_s:.0f}s)",
        )
        if elapsed >= bound_s:
            raise OperationFailedError(
                f"the new StackSet execution role is not usable after {bound_s:.0f}s "
                f"({', '.join(waiting)}: sts:AssumeRole is refused); IAM may still be "
                "propagating, or these credentials may not call sts:AssumeRole; fix: re-run "
                "deploy in a minute (bootstrap is done, finished stages are skipped)"
            )
    raise AssertionError("unreachable")  # poll_delays is endless
