"""The deployer targets one account, with that account's own credentials.

A multi-account rollout needs, per target account, credentials able to create the
StackSet execution role there before it exists (a profile per account or an existing
organisation role), templates where the administration account can read them,
cross-account sessions refreshed before they expire, and one hosted zone shared by every
account. The deployer does none of that, so it refuses such an environment up front
rather than failing half-way: one environment per account (each with its own
`suffix` and `domain`), deployed with that account's credentials.
"""

from __future__ import annotations

from trading_dr.config import Environment
from trading_dr.errors import UsageError

FIX = (
    "fix: list one account per environment file (one file per account, each with its own "
    "suffix and domain) and run trading-dr with that account's credentials (--profile)"
)


def check_single_account(env: Environment) -> None:
    """Refuse an environment with more than one target account (exit 2)."""
    if len(env.accounts) > 1:
        raise UsageError(
            f"environment {env.name} targets {len(env.accounts)} accounts "
            f"({', '.join(env.accounts)}); multi-account rollouts are not supported: "
            "bootstrap would need credentials in each account and one hosted zone shared by "
            f"all; {FIX}"
        )


def wrong_account_message(target: str, caller: str) -> str:
    return (
        f"the environment targets account {target} but the credentials are of account "
        f"{caller}; the deployer acts in the target account itself (no cross-account role); "
        f"fix: use credentials of {target} (--profile, or AWS_PROFILE)"
    )
