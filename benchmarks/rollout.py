#!/usr/bin/env python3
"""Benchmark the deployer: a full local rollout of prod, then a no-change re-run.

Runs against the embedded local AWS (moto server on 127.0.0.1) with the production
pacing (backoff, at most one describe per second per operation). Prints wall time and
the number of AWS API calls (and write calls) of each run. Targets (issue 5): the re-run
within 2 s and read-only.

    python benchmarks/rollout.py [--env prod]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import boto3  # noqa: E402

from trading_dr.config import load_environment  # noqa: E402
from trading_dr.deploy.aws import CallCounter, Clients  # noqa: E402
from trading_dr.deploy.deployed import Deployment  # noqa: E402
from trading_dr.deploy.progress import PlainProgress  # noqa: E402
from trading_dr.deploy.retry import Pacing  # noqa: E402
from trading_dr.deploy.rollout import deploy  # noqa: E402
from trading_dr.generator import render_environment  # noqa: E402
from trading_dr.local_aws.server import LocalAws  # noqa: E402


def run(
    server: LocalAws, files: dict[str, bytes], env_name: str
) -> tuple[float, CallCounter, list[str]]:
    env = load_environment(ROOT / "environments" / f"{env_name}.yaml")
    session = boto3.Session(
        region_name=env.primary.region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    counter = CallCounter()
    clients = Clients(session, server.endpoint_url, counter, local_account=env.accounts[0])
    dep = Deployment(env, files, clients, Pacing(), PlainProgress(io.StringIO()))
    started = time.perf_counter()
    results = deploy(dep)
    return time.perf_counter() - started, counter, [f"{r.name}={r.status}" for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default="prod")
    args = parser.parse_args()
    env = load_environment(ROOT / "environments" / f"{args.env}.yaml")
    files = dict(render_environment(env).files)  # rendering is not part of the figures
    with LocalAws() as server:
        for label in ("full rollout", "no-change re-run"):
            seconds, counter, stages = run(server, files, args.env)
            writes = sum(counter.writes.values())
            print(
                f"{label:<17} {seconds:6.2f} s  {counter.total:4d} API calls "
                f"({writes} writes)  {' '.join(stages)}"
            )


if __name__ == "__main__":
    main()
