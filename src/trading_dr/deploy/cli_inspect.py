"""`trading-dr status`, `diff` and `drift`: the commands that look and change nothing."""

from __future__ import annotations

import json
from typing import Any

import click

from trading_dr.deploy.cli_common import (
    Options,
    common_options,
    deployment,
    run,
)
from trading_dr.errors import (
    ChangesFoundError,
    OperationFailedError,
)


@click.command("status")
@common_options
@click.option(
    "--region",
    "region",
    default=None,
    metavar="REGION",
    help="Only this region, from its own endpoints (works while the other region is down).",
)
def status_command(region: str | None, **kwargs: Any) -> None:
    """Stack sets, their instances and statuses, the last operation, per region the
    accepted trades not yet stored (journal), and the region DNS answers the API name with."""
    opts = Options(**kwargs)

    def action() -> None:
        from trading_dr.deploy.journal_status import describe, journal_backlog
        from trading_dr.deploy.status import (
            describe_answer,
            dns_answers,
            regional_status,
            status,
        )

        if region is not None:
            with deployment(opts, lambda env: region) as dep:
                found = regional_status(dep, region)
                found["journal"] = journal_backlog(dep, (region,))
            _print_regional_status(opts, found)
            return
        with deployment(opts) as dep:
            rows = status(dep)
            journal = journal_backlog(dep)
            dns = dns_answers(dep)
        if opts.output == "json":
            body = {"stack_sets": rows, "journal": journal, "dns": dns}
            click.echo(json.dumps(body, indent=2, default=str))
            return
        for row in rows:
            last = row["last_operation"]
            last_text = f"{last['action']} {last['status']}" if last else "-"
            click.echo(
                f"{row['stack_set']:<28} {row['region']:<10} {row['status']:<8} last: {last_text}"
            )
            for i in row["instances"]:
                click.echo(
                    f"    {i['account']} {i['region']} {i['status']} {i['detailed_status']} "
                    f"stack {i.get('stack_status') or '-'} drift {i['drift_status']} "
                    f"{i.get('reason', '')}".rstrip()
                )
        for j in journal:
            click.echo(f"journal {j['account']} {j['region']:<10} {describe(j)}")
        for answer in dns:
            click.echo(describe_answer(answer))

    run(opts, action)


def _print_regional_status(opts: Options, found: dict[str, Any]) -> None:
    if opts.output == "json":
        click.echo(json.dumps(found, indent=2, default=str))
        return
    click.echo(f"{found['region']} (account {found['account']}), from its own endpoints:")
    for stack in found["stacks"] or [{"stack": "no stacks of this environment", "status": ""}]:
        click.echo(f"    {stack['stack']} {stack['status']} {stack.get('reason', '')}".rstrip())
    workflow = found["failover_workflow"]
    click.echo(f"    failover workflow {workflow['name']} {workflow['status']}")
    for execution in workflow["executions"]:
        click.echo(f"        {execution['started']} {execution['name']} {execution['status']}")
    from trading_dr.deploy.journal_status import describe

    for journal in found["journal"]:
        click.echo(f"    journal {journal['account']} {describe(journal)}")


fail_on_change_option = click.option(
    "--fail-on-change",
    is_flag=True,
    help="Exit 3 when anything differs (for CI gates).",
)


@click.command("diff")
@common_options
@fail_on_change_option
def diff_command(fail_on_change: bool, **kwargs: Any) -> None:
    """Rendered vs deployed templates and parameters: IAM and security group changes first."""
    opts = Options(**kwargs)

    def action() -> None:
        from trading_dr.deploy.diff import diff, render_text

        with deployment(opts) as dep:
            diffs = diff(dep)
        changed = [d.name for d in diffs if d.changed]
        if opts.output == "json":
            body = {"stages": [d.as_json() for d in diffs], "changed": bool(changed)}
            click.echo(json.dumps(body, indent=2, default=str))
        else:
            for line in render_text(diffs):
                click.echo(line)
        if changed and fail_on_change:
            raise ChangesFoundError(f"changes found in: {', '.join(changed)}")

    run(opts, action)


@click.command("drift")
@common_options
@fail_on_change_option
def drift_command(fail_on_change: bool, **kwargs: Any) -> None:
    """Detect drift of each stack set, wait, and list the drifted resources."""
    opts = Options(**kwargs)

    def action() -> None:
        from trading_dr.deploy.drift import drift, render_text

        with deployment(opts) as dep:
            results = drift(dep)
        if opts.output == "json":
            body = {"stack_sets": [r.as_json() for r in results]}
            click.echo(json.dumps(body, indent=2, default=str))
        else:
            for line in render_text(results):
                click.echo(line)
        failed = [r for r in results if r.status == "FAILED"]
        if failed:
            raise OperationFailedError(
                f"drift detection of {failed[0].stack_set} did not finish: "
                + "; ".join(failed[0].reasons)
            )
        drifted = [r.name for r in results if r.drifted]
        if drifted and fail_on_change:
            raise ChangesFoundError(f"drift found in: {', '.join(drifted)}")

    run(opts, action)
