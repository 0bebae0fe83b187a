"""`trading-dr bootstrap`, `plan` and `deploy`: the rollout commands."""

from __future__ import annotations

import json
from typing import Any

import click

from trading_dr.deploy.cli_common import (
    Options,
    common_options,
    deployment,
    fail_on_failed,
    fail_on_waiting,
    print_stages,
    run,
)
from trading_dr.errors import (
    OperationFailedError,
)


@click.command("deploy")
@common_options
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Stop waiting after this long (the running operation goes on; a re-run attaches).",
)
@click.option(
    "--skip-delegation-check",
    is_flag=True,
    help="Do not wait for a new hosted zone's NS delegation (a local AWS; implied by --local).",
)
def deploy_command(timeout_s: float | None, skip_delegation_check: bool, **kwargs: Any) -> None:
    """Roll out bootstrap, global, primary, migrate, secondary and link, in order."""
    opts = Options(**kwargs)

    def action() -> None:
        from trading_dr.deploy.rollout import deploy

        with deployment(
            opts, timeout_s=timeout_s, check_delegation=not skip_delegation_check
        ) as dep:
            results = deploy(dep)
        print_stages(opts, results, "deploy")
        fail_on_failed(results)
        fail_on_waiting(opts, results)

    run(opts, action)


@click.command("plan")
@common_options
def plan_command(**kwargs: Any) -> None:
    """Show the ordered stages, their targets and parameters, and what would change."""
    opts = Options(**kwargs)

    def action() -> None:
        from trading_dr.deploy.rollout import plan

        with deployment(opts) as dep:
            results = plan(dep)
        if opts.output == "json":
            click.echo(
                json.dumps(
                    {
                        "stages": [
                            {
                                "name": r.name,
                                "action": r.status,
                                "stack_set": r.stack_set,
                                "region": r.region,
                                "accounts": r.accounts,
                                "parameters": r.parameters,
                                **({"missing": r.reasons} if r.name == "bootstrap" else {}),
                                **({"migrations": r.reasons} if r.name == "migrate" else {}),
                                **({"shortfall": r.reasons} if r.name == "capacity" else {}),
                            }
                            for r in results
                        ]
                    },
                    indent=2,
                )
            )
            _fail_on_capacity(results)
            return
        for r in results:
            click.echo(
                f"{r.name:<10} {r.status:<10} {r.stack_set or '-'} {r.region} "
                f"{','.join(r.accounts)}"
            )
            for key, value in sorted(r.parameters.items()):
                click.echo(f"    {key} = {value!r}")
            if r.name == "bootstrap":
                for item in r.reasons:
                    click.echo(f"    needed: {item}")
            if r.name in {"migrate", "capacity"}:
                for item in r.reasons:
                    click.echo(f"    {item}")
        _fail_on_capacity(results)

    run(opts, action)


def _fail_on_capacity(results: list[Any]) -> None:
    short = [r for r in results if r.name == "capacity"]
    if short:
        raise OperationFailedError(
            "the accounts cannot hold the templates' reserved Lambda concurrency: "
            + "; ".join(short[0].reasons)
        )


@click.command("bootstrap")
@common_options
def bootstrap_command(**kwargs: Any) -> None:
    """Create the StackSet roles and the per-region artifact buckets (idempotent)."""
    opts = Options(**kwargs)

    def action() -> None:
        from trading_dr.deploy.rollout import Rollout

        with deployment(opts) as dep:
            result = Rollout(dep).bootstrap(apply=True)
        print_stages(opts, [result], "bootstrap")

    run(opts, action)
