"""IAM propagation delay in the local AWS (moto makes a new role usable at once).

IAM is eventually consistent: a role that `CreateRole` just returned may not yet be
assumable elsewhere ("Changes that I make are not always immediately visible", IAM User
Guide, troubleshooting). StackSets then fails the first operation with "Account <id>
should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship to
Role 'AWSCloudFormationStackSetAdministrationRole'".

While `faults.set_iam_propagation_seconds(s)` is above 0, a role younger than `s`:
- cannot be assumed: `AssumeRole` answers AccessDenied as STS does;
- fails every stack set operation on an instance of its account (`check_stack_set_roles`,
  called by the stack set operations), with StackSets' message; so does a missing role.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from moto.core.utils import utcnow
from moto.iam.models import iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.responses import TokenResponse

from trading_dr.local_aws import faults

EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"


class AccessDeniedError(STSClientError):
    def __init__(self, message: str) -> None:
        super().__init__("AccessDenied", message)


def _young_or_missing(account: str, name: str) -> bool:
    seconds = faults.iam_propagation_seconds()
    role = next((r for r in iam_backends[account]["global"].roles.values() if r.name == name), None)
    return role is None or utcnow() - role.create_date < timedelta(seconds=seconds)


def stack_set_roles_reason(account: str, admin_account: str) -> str | None:
    """StackSets' reason to fail an instance in `account`, or None if its roles work."""
    if faults.iam_propagation_seconds() <= 0:
        return None
    if _young_or_missing(account, EXECUTION_ROLE) or _young_or_missing(
        admin_account, ADMINISTRATION_ROLE
    ):
        return (
            f"Account {account} should have '{EXECUTION_ROLE}' role with trust relationship "
            f"to Role '{ADMINISTRATION_ROLE}'."
        )
    return None


def install() -> None:
    """Idempotent; called by `extension.install()`."""
    if getattr(TokenResponse, "_trading_dr_iam_delay", False):
        return
    assume = TokenResponse.assume_role

    def assume_role(self: Any) -> Any:
        arn = str(self._get_param("RoleArn") or "")
        parts = arn.split(":")
        if faults.iam_propagation_seconds() > 0 and len(parts) == 6 and "/" in parts[5]:
            account, name = parts[4], parts[5].rsplit("/", 1)[1]
            if _young_or_missing(account, name):
                raise AccessDeniedError(
                    f"User: {self.current_account} is not authorized to perform: "
                    f"sts:AssumeRole on resource: {arn}"
                )
        return assume(self)

    TokenResponse.assume_role = assume_role  # type: ignore[method-assign]
    TokenResponse._trading_dr_iam_delay = True  # type: ignore[attr-defined]
