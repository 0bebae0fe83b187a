"""`trading-dr` operating commands: a thin click layer over the deploy functions.

`COMMANDS` lists them all. Here: `failover`, `drill` and `local-aws`; the rollout
commands are in cli_rollout.py, the read-only ones in cli_inspect.py, `destroy` in
cli_destroy.py, and what they share (options declared once, AWS errors mapped onto the
tool's error hierarchy so every command exits 0 ok, 1 operation failed or endpoint
unreachable, 2 usage/configuration/credentials, 3 changes found under --fail-on-change)
in cli_common.py.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from trading_dr.deploy.cli_common import (
    Options,
    common_options,
    deployment,
    run,
)
from trading_dr.deploy.cli_destroy import destroy_command
from trading_dr.deploy.cli_inspect import diff_command, drift_command, status_command
from trading_dr.deploy.cli_rollout import bootstrap_command, deploy_command, plan_command
from trading_dr.errors import (
    OperationFailedError,
    UsageError,
)


@click.command("failover")
@common_options
@click.option(
    "--drill",
    is_flag=True,
    help="Planned switchover (no data loss, needs both regions healthy).",
)
@click.option(
    "--to",
    "to_role",
    type=click.Choice(["secondary", "primary"]),
    default="secondary",
    show_default=True,
    help="Recovery region's role: where the writer moves (primary: failback).",
)
@click.option(
    "--release",
    is_flag=True,
    help="Lift the fence the --to region's workflow holds on its peer (before a failback).",
)
@click.option(
    "--accept-data-loss",
    is_flag=True,
    help="Unplanned only: fail over even when the last known replication lag exceeds "
    "the RPO target (or is unknown).",
)
def failover_command(
    drill: bool, to_role: str, release: bool, accept_data_loss: bool, **kwargs: Any
) -> None:
    """Start the failover workflow in the recovery region and follow it to the end."""
    opts = Options(**kwargs)

    def action() -> None:
        from trading_dr.config import Role
        from trading_dr.deploy.failover_cmd import (
            find_state_machine,
            follow,
            recovery_region,
            start,
        )

        if release and drill:
            raise UsageError("--release and --drill exclude each other; fix: pass one of them")
        if accept_data_loss and (release or drill):
            raise UsageError(
                "--accept-data-loss applies to an unplanned failover only; fix: drop it, "
                "or drop --drill/--release"
            )
        mode = "release" if release else "planned" if drill else "unplanned"
        with deployment(opts, lambda env: recovery_region(env, Role(to_role))) as dep:
            machine = find_state_machine(dep, Role(to_role))
            if mode == "unplanned" and not opts.yes:
                question = (
                    f"Unplanned failover of {opts.env} to {machine.split(':')[3]}: Aurora "
                    "FailoverGlobalCluster with AllowDataLoss. Continue?"
                )
                try:
                    confirmed = click.confirm(question, default=False, err=True)
                except click.Abort:
                    confirmed = False
                if not confirmed:
                    raise UsageError(
                        "unplanned failover not confirmed; fix: answer y, pass --yes, "
                        "or use --drill for a planned switchover"
                    )
            execution_arn = start(dep, machine, mode, accept_data_loss=accept_data_loss)
            if opts.output == "text":
                click.echo(f"started {mode} failover: {execution_arn}")

            def show(event: Any) -> None:
                if opts.output == "text":
                    click.echo(event.line())

            run_ = follow(dep, machine, execution_arn, mode, show)
        if opts.output == "json":
            click.echo(json.dumps(run_.as_json(), indent=2, default=str))
        elif run_.status == "SUCCEEDED":
            outcome = f": {run_.outcome}" if run_.outcome else ""
            click.echo(f"failover ({mode}) SUCCEEDED in {run_.duration_s:.1f}s{outcome}")
        if run_.status != "SUCCEEDED":
            raise OperationFailedError(
                f"failover ({mode}) {run_.status} in state {run_.failed_state}: "
                f"{run_.error}: {run_.cause}; execution {execution_arn}"
            )

    run(opts, action)


# trading_dr.local_aws.drill.SCENARIOS (not imported here: it loads moto); a test holds
# the two equal.
DRILL_SCENARIOS = ("concurrent", "lag-too-high", "partition", "planned", "region-outage")


@click.command("drill")
@click.option(
    "--scenario",
    type=click.Choice(DRILL_SCENARIOS),
    required=True,
    help="What to break: see README, 'Failover drills on the local AWS'.",
)
@click.option(
    "--env",
    "env",
    default="prod",
    show_default=True,
    metavar="NAME",
    help="Environment (environments/NAME.yaml) whose rendered templates are drilled.",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def drill_command(scenario: str, env: str, output: str, debug: bool) -> None:
    """Run a failover drill on a fresh simulated local AWS and print its timeline.

    Exit 0 when the platform did what the scenario expects, 1 when it did not.
    """
    opts = Options(env, None, None, False, output, debug, False, None)

    def action() -> Any:
        from trading_dr.generator import DEFAULT_ENVIRONMENTS, select_environments
        from trading_dr.local_aws.drill import run_drill

        (environment,) = select_environments(DEFAULT_ENVIRONMENTS, [env])
        return run_drill(scenario, environment)

    result = run(opts, action)
    if output == "json":
        click.echo(json.dumps(result.as_json(), indent=2))
    else:
        for line in result.lines():
            click.echo(line)
    if not result.passed:
        sys.exit(1)


@click.command("local-aws")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=4566,
    show_default=True,
    help="Port on 127.0.0.1 (0: any free).",
)
@click.option(
    "--stop", "stop", is_flag=True, help="Stop the background local AWS that --local started."
)
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Whether the background local AWS runs, and where (exit 0 running, 1 not).",
)
@click.option(
    "--region-down",
    "regions_down",
    multiple=True,
    metavar="REGION",
    help="Cut REGION in a running local AWS: every request signed for it is refused.",
)
@click.option("--region-up", "regions_up", multiple=True, metavar="REGION", help="Restore REGION.")
@click.option(
    "--endpoint-url",
    default=None,
    help="With --region-down/--region-up: a local AWS on this machine (default: the "
    "background one).",
)
@click.option("--debug", is_flag=True)
@click.pass_context
def local_aws_command(
    ctx: click.Context,
    port: int,
    stop: bool,
    show_status: bool,
    regions_down: tuple[str, ...],
    regions_up: tuple[str, ...],
    endpoint_url: str | None,
    debug: bool,
) -> None:
    """Run the embedded local AWS until interrupted (Ctrl-C); stop or show the background
    one that `--local` commands share; or cut and restore regions of a running one."""
    opts = Options("prod", None, None, True, "text", debug, False, None)
    if regions_down or regions_up:
        run(opts, lambda: _set_regions(endpoint_url, list(regions_down), list(regions_up)))
        return
    if endpoint_url is not None:
        run(opts, lambda: _refuse("--endpoint-url applies to --region-down/--region-up only"))
    if stop or show_status:
        port_given = ctx.get_parameter_source("port") is not click.core.ParameterSource.DEFAULT

        def check() -> None:
            if stop and show_status:
                raise UsageError("--stop and --status exclude each other; fix: pass one of them")
            if port_given:
                raise UsageError(
                    "--port applies to the foreground local AWS only; fix: drop --port "
                    "(the background one picks a free port)"
                )

        run(opts, check)
        _background_local_aws(opts, stop)
        return
    from trading_dr.local_aws.daemon import provide_every_environment
    from trading_dr.local_aws.server import LocalAws

    server = LocalAws(port=port, verbose=debug)

    def start() -> list[str]:
        server.start()
        return provide_every_environment(server)

    provided = run(opts, start)
    click.echo(
        f"local AWS listening on {server.endpoint_url}; use --endpoint-url {server.endpoint_url}"
    )
    for item in provided:
        click.echo(f"pre-existing for the environments: {item}")
    click.echo(
        "credentials: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing; Ctrl-C stops it"
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def _refuse(message: str) -> None:
    raise UsageError(f"{message}; fix: drop it")


def _set_regions(endpoint_url: str | None, down: list[str], up: list[str]) -> None:
    """Cut/restore regions of a running local AWS on this machine, and say which are down."""
    import urllib.error
    import urllib.request

    from trading_dr.deploy.cli_common import is_loopback
    from trading_dr.local_aws import daemon
    from trading_dr.local_aws.outage import CONTROL_PATH

    if endpoint_url is None:
        found = daemon.running()
        if found is None:
            raise UsageError(
                "no background local AWS running; fix: start one (any --local command), "
                "or pass --endpoint-url of a `trading-dr local-aws` on this machine"
            )
        endpoint_url = found.endpoint_url
    if not is_loopback(endpoint_url):
        raise UsageError(
            f"{endpoint_url} is not a local AWS on this machine; fix: pass the URL that "
            "`trading-dr local-aws` printed (127.0.0.1 or localhost)"
        )
    request = urllib.request.Request(
        endpoint_url.rstrip("/") + CONTROL_PATH,
        data=json.dumps({"down": down, "up": up}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise UsageError(
            f"the local AWS refused: {exc.read().decode(errors='replace')}; fix: name regions "
            "such as us-east-1"
        ) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise OperationFailedError(
            f"no local AWS answers at {endpoint_url} ({exc}); fix: start it, or check the URL"
        ) from exc
    now_down = ", ".join(answer["down"]) or "none"
    click.echo(f"local AWS at {endpoint_url}: regions down: {now_down}")


def _background_local_aws(opts: Options, stop: bool) -> None:
    """`local-aws --stop` (exit 0 whether one ran or not) and `--status` (exit 0 running,
    1 not)."""
    from trading_dr.local_aws import daemon

    paths = daemon.state_paths()
    if stop:
        stopped = run(opts, daemon.stop)
        if stopped.was_running and stopped.state is not None:
            click.echo(
                f"stopped the background local AWS at {stopped.state.endpoint_url} "
                f"(pid {stopped.state.pid}); its state is gone"
            )
        elif stopped.state is not None:
            click.echo(
                f"no background local AWS running (removed {paths.state}, which named "
                f"pid {stopped.state.pid}, gone)"
            )
        else:
            click.echo("no background local AWS running")
        return
    found = run(opts, daemon.running)
    if found is None:
        click.echo("no background local AWS running (a --local command starts one)")
        sys.exit(1)
    click.echo(f"background local AWS running at {found.describe(paths)}")
    click.echo(
        f"--local commands use it; others reach it with --endpoint-url {found.endpoint_url} "
        "and AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
    )


COMMANDS = (
    bootstrap_command,
    plan_command,
    deploy_command,
    diff_command,
    drift_command,
    failover_command,
    drill_command,
    status_command,
    destroy_command,
    local_aws_command,
)
