"""Clients of an account in a local AWS: moto takes the caller's account from a header.

Used by what the local AWS runs itself (the validator's and observer's real code, the live
loop) and by tests that build or read a deployment in an environment's account.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

from trading_dr.local_aws.server import LOCAL_CREDENTIALS, LOCAL_HOST

_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)


def in_account(client: Any, account: str) -> Any:
    """`client`, acting in `account` (moto's `x-moto-account-id` header on every request)."""

    def add_header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-sign.*.*", add_header)
    return client


def client_in(
    service: str,
    account: str,
    region: str,
    read_timeout: int | None = None,
    endpoint_url: str | None = None,
) -> Any:
    """A client of `account` in `region`, calling the local AWS of this process (or
    `endpoint_url`); `read_timeout` for a call that holds the connection longer (a
    synchronous Invoke)."""
    config = _CONFIG if read_timeout is None else _CONFIG.merge(Config(read_timeout=read_timeout))
    client = boto3.client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=endpoint_url or f"http://{LOCAL_HOST}:{os.environ['MOTO_PORT']}",
        config=config,
        **LOCAL_CREDENTIALS,
    )
    return in_account(client, account)
