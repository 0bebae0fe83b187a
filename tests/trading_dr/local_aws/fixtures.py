"""Shared fixtures: one local AWS per test session, emptied before each test."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from trading_dr.config import Environment, load_environment
from trading_dr.deploy.aws import CallCounter, Clients
from trading_dr.deploy.deployed import Deployment
from trading_dr.deploy.progress import PlainProgress
from trading_dr.deploy.retry import Pacing
from trading_dr.local_aws.server import LocalAws

ROOT = Path(__file__).resolve().parents[3]
# Waits shrunk so faults and polling cost milliseconds; the logic is the same.
FAST = Pacing(base_s=0.001, cap_s=0.01, poll_min_s=0.01, poll_max_s=0.02)


@pytest.fixture(scope="session")
def local_server() -> Iterator[LocalAws]:
    with LocalAws(live=False) as server:  # tests tick `Live` at the times they choose
        yield server


@pytest.fixture
def local_aws(local_server: LocalAws) -> LocalAws:
    local_server.reset()
    return local_server


@pytest.fixture(scope="session")
def prod() -> Environment:
    return load_environment(ROOT / "environments" / "prod.yaml")


@pytest.fixture(scope="session")
def prod_files(prod: Environment) -> dict[str, bytes]:
    from trading_dr.generator import render_environment

    return dict(render_environment(prod).files)


def session() -> boto3.Session:
    return boto3.Session(
        region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def make_deployment(server: LocalAws, env: Environment, files: dict[str, bytes]) -> Deployment:
    """A deployment against the local AWS, acting from the environment's first account;
    progress goes to `dep.progress.stream` (a StringIO)."""
    clients = Clients(session(), server.endpoint_url, CallCounter(), local_account=env.accounts[0])
    return Deployment(env, files, clients, FAST, PlainProgress(io.StringIO()))


def use_account(server: LocalAws, account: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Export credentials of `account` in the local AWS (an assumed role's: moto maps
    them to the role's account), as a user would have that account's own credentials."""
    sts = session().client("sts", endpoint_url=server.endpoint_url)
    role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    credentials = sts.assume_role(RoleArn=role, RoleSessionName="tests")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    monkeypatch.delenv("AWS_PROFILE", raising=False)
