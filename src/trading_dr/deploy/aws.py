"""boto3 sessions and clients for the deployer: one per (account, region, service).

botocore's own retries are off (total_max_attempts=1): `retry.call` retries what botocore's
standard mode would (throttling, 5xx, timeouts, dropped connections), with the operation
id kept and waits that tests can shrink, and every attempt is counted (`CallCounter`),
which the benchmark reports.

Single account: the deployer acts in the target account with that account's own
credentials. A client for any other account is refused with the fix (`accounts.py` says
why multi-account rollouts are not offered), never reached through an assumed role;
the one exception is a local AWS on this machine (`local_cross_account`).

STS is always called at a regional endpoint (`sts.<region>.amazonaws.com`), never the
global one, whatever the user's `sts_regional_endpoints` setting: `sts_region` (default
the session's region) says which. The failover command sets it to the recovery region,
so that a command run during an outage of the primary region reaches only the
recovery region (AWS STS Regions and endpoints, IAM User Guide).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from trading_dr.deploy.accounts import wrong_account_message
from trading_dr.deploy.retry import Pacing, call
from trading_dr.errors import UsageError

EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
# botocore's default; a call that may legitimately take longer (a synchronous Lambda
# invocation) asks for its own read timeout (`Clients.client(read_timeout=...)`).
DEFAULT_READ_TIMEOUT_S = 60
READ_PREFIXES = ("Describe", "List", "Get", "Head", "Detect")  # Detect*: starts drift only
# The migrate function's status invoke only reads (deploy/migrations.py): counted apart.
STATUS_INVOKE = "Invoke(status)"


@dataclass
class CallCounter:
    """API calls made, by operation name (every attempt counts)."""

    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, model: Any, params: Any = None, **_: Any) -> None:
        name = model.name
        if name == "Invoke" and json_body(params) == {"action": "status"}:
            name = STATUS_INVOKE
        self.calls[name] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def writes(self) -> dict[str, int]:
        return {
            name: n
            for name, n in self.calls.items()
            if not name.startswith(READ_PREFIXES) and name != STATUS_INVOKE
        }


def json_body(params: Any) -> Any:
    """The JSON body of a request about to be sent (botocore's request dict), or None."""
    body = params.get("body") if isinstance(params, dict) else None
    try:
        return json.loads(body) if isinstance(body, bytes | str) and body else None
    except ValueError:
        return None


def regional_sts_url(region: str) -> str:
    """STS's endpoint in `region` (the global endpoint is served from us-east-1 for
    callers configured with the legacy setting, and is not wanted during its outage)."""
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://sts.{region}.{suffix}"


class Clients:
    """Cached boto3 clients; `endpoint_url` points every service at one endpoint (local)."""

    def __init__(
        self,
        session: boto3.Session,
        endpoint_url: str | None = None,
        counter: CallCounter | None = None,
        local_account: str | None = None,
        sts_region: str | None = None,
        pacing: Pacing | None = None,
        local_cross_account: bool = False,
    ) -> None:
        self.session = session
        self.sts_region = sts_region or session.region_name or "us-east-1"
        self.endpoint_url = endpoint_url
        self.counter = counter or CallCounter()
        self.pacing = pacing or Pacing()
        self._clients: dict[tuple[str, str, str, int | None], Any] = {}
        self._sessions: dict[str, boto3.Session] = {}
        self._account: str | None = None
        self._partition = "aws"
        # The local AWS (moto) takes the caller's account from this header: the deployer
        # then acts from the environment's first account, as a single-account setup does.
        self._local_account = local_account
        # A local AWS on this machine (`local-aws`, --endpoint-url): its test credentials
        # belong to moto's default account, and the only way to act as the environment's
        # account there is to assume a role in it (moto allows any). Never on AWS.
        self._local_cross_account = local_cross_account
        self._config = self._config_for(DEFAULT_READ_TIMEOUT_S)

    @staticmethod
    def _config_for(read_timeout: float) -> Config:
        return Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=5,
            read_timeout=read_timeout,
        )

    def client(
        self, service: str, region: str, account: str | None = None, read_timeout: int | None = None
    ) -> Any:
        """The cached client; `read_timeout` (s) for calls that hold the connection longer
        than DEFAULT_READ_TIMEOUT_S (a client of its own, still without SDK retries)."""
        account = account or self.caller_account()
        key = (account, region, service, read_timeout)
        if key not in self._clients:
            session = self._session_for(account)
            endpoint_url = self.endpoint_url
            if endpoint_url is None and service == "sts":
                endpoint_url = regional_sts_url(region)
            client = session.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                endpoint_url=endpoint_url,
                config=self._config if read_timeout is None else self._config_for(read_timeout),
            )
            client.meta.events.register("before-call.*.*", self.counter)
            if session is self.session:
                self._mark_local(client)
            self._clients[key] = client
        return self._clients[key]

    def caller_account(self) -> str:
        if self._account is None:
            sts = self.session.client(
                "sts",
                endpoint_url=self.endpoint_url or regional_sts_url(self.sts_region),
                config=self._config,
                region_name=self.sts_region,
            )
            sts.meta.events.register("before-call.*.*", self.counter)
            self._mark_local(sts)
            identity = call(self.pacing, sts.get_caller_identity)
            self._account = str(identity["Account"])
            self._partition = str(identity.get("Arn", "arn:aws:")).split(":")[1] or "aws"
        return self._account

    def partition(self) -> str:
        """The caller's partition (aws, aws-cn, aws-us-gov), from its identity's ARN."""
        self.caller_account()
        return self._partition

    def _mark_local(self, client: Any) -> None:
        account = self._local_account
        if account is None:
            return

        def add_header(request: Any, **_: Any) -> None:
            request.headers["x-moto-account-id"] = account

        client.meta.events.register("before-sign.*.*", add_header)

    def require_account(self, account: str) -> None:
        """Refuse (exit 2, with the fix) credentials of another account than `account`."""
        caller = self.caller_account()
        if account != caller and not self._local_cross_account:
            raise UsageError(wrong_account_message(account, caller))

    def _session_for(self, account: str) -> boto3.Session:
        self.require_account(account)
        if account == self.caller_account():
            return self.session
        if account not in self._sessions:  # the local AWS only (see __init__)
            sts = self.client("sts", self.sts_region)
            credentials = call(
                self.pacing,
                sts.assume_role,
                RoleArn=f"arn:aws:iam::{account}:role/{EXECUTION_ROLE}",
                RoleSessionName="trading-dr-deployer",
            )["Credentials"]
            self._sessions[account] = boto3.Session(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"],
                region_name=self.session.region_name,
            )
        return self._sessions[account]
