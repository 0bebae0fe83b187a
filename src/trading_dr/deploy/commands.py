"""`trading-dr` operating commands: a thin click layer over the deploy functions.

Options shared by every command are declared once (`common_options`). Errors from AWS
are mapped onto the tool's error hierarchy here, so every command exits 0 ok,
1 operation failed (or endpoint unreachable), 2 usage/configuration/credentials,
3 changes found under --fail-on-change.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from trading_dr.errors import (
    ChangesFoundError,
    CredentialsError,
    DelegationPendingError,
    EndpointError,
    OperationFailedError,
    TradingDrError,
    UsageError,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    env: str
    profile: str | None
    endpoint_url: str | None
    local: bool
    output: str
    debug: bool
    yes: bool
    from_dir: Path | None


def common_options(function: Callable[..., None]) -> Callable[..., None]:
    options = [
        click.option(
            "--env",
            "env",
            default="prod",
            show_default=True,
            metavar="NAME",
            help="Environment (environments/NAME.yaml).",
        ),
        click.option("--profile", default=None, help="AWS named profile."),
        click.option(
            "--endpoint-url",
            default=None,
            metavar="URL",
            help="Send every AWS call to this endpoint (e.g. a running local AWS).",
        ),
        click.option(
            "--local",
            is_flag=True,
            help="Start the embedded local AWS for the duration of this command.",
        ),
        click.option(
            "--output", type=click.Choice(["text", "json"]), default="text", show_default=True
        ),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
        click.option("--yes", is_flag=True, help="Confirm destructive actions."),
        click.option(
            "--from",
            "from_dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            metavar="DIR",
            help="Deploy a rendered tree (out/<env>) instead of rendering now.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _endpoint_problem(url: str) -> str | None:
    """What makes `url` unusable as a botocore endpoint, or None."""
    from urllib.parse import urlsplit

    from botocore.utils import is_valid_endpoint_url, is_valid_ipv6_endpoint_url

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # an unclosed IPv6 bracket, a port that is no number
        return (
            "has a port that is not a number from 1 to 65535"
            if "Port" in str(exc)
            else (f"is not a URL ({exc})")
        )
    if parts.scheme not in {"http", "https"}:
        return "has no scheme" if "://" not in url else f"has scheme {parts.scheme or '(none)'}"
    if not parts.hostname:
        return "has no host"
    if port == 0:
        return "has port 0"
    # botocore's own test, which the client would otherwise fail with a traceback.
    if not (is_valid_endpoint_url(url) or is_valid_ipv6_endpoint_url(url)):
        return "is not a URL botocore accepts (host name or address)"
    return None


def check_endpoint_url(url: str) -> str:
    """The URL if botocore can send to it; else a UsageError naming what is wrong."""
    problem = _endpoint_problem(url)
    if problem:
        raise UsageError(
            f"--endpoint-url {url!r} {problem}; fix: give http:// or https://, a host and "
            "optionally a port, e.g. --endpoint-url http://127.0.0.1:4566"
        )
    return url


def _one_line(text: object, limit: int = 300) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def aws_errors(action: Callable[[], T]) -> T:
    """Run `action`, turning botocore's errors into the tool's (one line, exit code)."""
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    try:
        return action()
    except (bx.NoCredentialsError, bx.PartialCredentialsError, bx.ProfileNotFound) as exc:
        raise CredentialsError(
            f"no usable AWS credentials ({exc}); fix: set AWS_PROFILE or pass --profile, "
            "or use --local for the embedded local AWS"
        ) from exc
    except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ConnectionClosedError) as exc:
        raise EndpointError(
            f"cannot reach the AWS endpoint ({exc}); fix: check --endpoint-url and the network"
        ) from exc
    except ResponseParserError as exc:
        raise EndpointError(
            f"the endpoint's answer is not an AWS API response ({_one_line(exc, 160)}); "
            "fix: check that --endpoint-url points at AWS or a running local AWS, "
            "and retry if the endpoint was failing"
        ) from exc
    except bx.ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        message = f"{exc.operation_name}: {error.get('Code')}: {_one_line(error.get('Message'))}"
        if isinstance(status, int) and status >= 500:
            raise EndpointError(
                f"{message} (HTTP {status} from the endpoint); fix: retry; with the local AWS, "
                "run it with --debug to see its log"
            ) from exc
        raise OperationFailedError(message) from exc
    except bx.BotoCoreError as exc:
        raise EndpointError(
            f"the AWS call failed: {_one_line(exc)}; fix: check --endpoint-url, --profile "
            "and the network; --debug shows the traceback"
        ) from exc


def run(opts: Options, action: Callable[[], T]) -> T:
    """Run `action`; a TradingDrError exits with its code and one line on stderr."""
    try:
        return aws_errors(action)
    except TradingDrError as exc:
        if opts.debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def _read_tree(directory: Path, env: Any) -> dict[str, bytes]:
    """The rendered tree in `directory`, refused unless it was rendered for `env`."""
    from trading_dr.deploy.plan import parse_template
    from trading_dr.manifest import check_tree

    if not (directory / "templates").is_dir():
        raise UsageError(
            f"{directory} has no templates/; fix: python generate.py --env {env.name} --out DIR"
        )
    try:
        files = {
            path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(directory.rglob("*"))
            if path.is_file()
        }
    except OSError as exc:
        raise UsageError(
            f"cannot read {exc.filename or directory}: {exc.strerror or exc}; "
            "fix: pass a readable rendered tree as --from"
        ) from exc
    manifest = check_tree(files, directory, env.name)
    # The templates say whom they were built for too: a hand-assembled tree is caught.
    for name, body in sorted(files.items()):
        if name.startswith("templates/") and name.endswith(".yaml"):
            generator = (parse_template(body).get("Metadata") or {}).get("Generator") or {}
            if generator.get("Environment") != env.suffix:
                raise UsageError(
                    f"{directory / name} was rendered for suffix "
                    f"{generator.get('Environment')!r}, but {env.name} uses {env.suffix!r}; "
                    f"fix: render it again with `python generate.py --env {env.name}`"
                )
    click.echo(
        f"{directory}: rendered for {manifest.environment} at revision "
        f"{manifest.source_revision[:12]}",
        err=True,
    )
    return files


def is_loopback(endpoint_url: str | None) -> bool:
    """An endpoint on this machine: a local AWS (AWS's endpoints are never loopback)."""
    from urllib.parse import urlsplit

    host = urlsplit(endpoint_url or "").hostname or ""
    return host in {"localhost", "127.0.0.1", "::1"}


@contextmanager
def deployment(
    opts: Options,
    region_of: Callable[[Any], str] | None = None,
    timeout_s: float | None = None,
    check_delegation: bool = True,
) -> Iterator[Any]:
    """The command's Deployment. `region_of(env)`: the one region whose endpoints a
    command that must survive the other region's outage uses (session, STS);
    `timeout_s` bounds every wait for an operation (--timeout); a new hosted zone's
    delegation is checked unless asked not to or --local."""
    import boto3

    from trading_dr.deploy.accounts import check_single_account
    from trading_dr.deploy.aws import Clients
    from trading_dr.deploy.delegation import is_delegated
    from trading_dr.deploy.progress import make_progress
    from trading_dr.deploy.retry import Pacing
    from trading_dr.deploy.rollout import Deployment
    from trading_dr.generator import DEFAULT_ENVIRONMENTS, render_environment, select_environments

    env = select_environments(DEFAULT_ENVIRONMENTS, [opts.env])[0]
    check_single_account(env)
    endpoint_url = check_endpoint_url(opts.endpoint_url) if opts.endpoint_url else None
    files = _read_tree(opts.from_dir, env) if opts.from_dir else dict(render_environment(env).files)
    local = None
    home = region_of(env) if region_of else env.primary.region
    session_kwargs: dict[str, Any] = {"region_name": home}
    if opts.local:
        from trading_dr.local_aws.server import LOCAL_CREDENTIALS, LocalAws

        local = LocalAws().start()
        local.provide(env)
        endpoint_url = local.endpoint_url
        session_kwargs.update(LOCAL_CREDENTIALS)
    elif opts.profile:
        session_kwargs["profile_name"] = opts.profile
    progress = make_progress(sys.stdout if opts.output == "text" else sys.stderr)
    try:
        session = boto3.Session(**session_kwargs)
        clients = Clients(
            session,
            endpoint_url,
            local_account=env.accounts[0] if local else None,
            sts_region=home,
            local_cross_account=is_loopback(endpoint_url),
        )
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        check = is_delegated if check_delegation and local is None else None
        yield Deployment(
            env, files, clients, Pacing(), progress, deadline, ask_stop_or_detach, check
        )
    finally:
        progress.close()
        if local is not None:
            local.stop()


def _print_stages(opts: Options, results: list[Any], verb: str) -> None:
    if opts.output == "json":
        click.echo(json.dumps({"stages": [r.as_json() for r in results]}, indent=2))
        return
    for r in results:
        op = f" operation {r.operation_id}" if r.operation_id else ""
        click.echo(f"{r.name:<10} {r.status:<10} {r.duration_s:6.1f}s{op}")
    failed = [r for r in results if r.status in {"failed", "waiting"}]
    if not failed:
        # "absent" (destroy found nothing to delete) is no change either.
        changed = sum(r.status not in {"unchanged", "absent"} for r in results)
        click.echo(f"{verb}: {len(results)} stage(s), {changed} changed")


def _fail_on_failed(results: list[Any]) -> None:
    failed = [r for r in results if r.status == "failed"]
    if failed:
        stage = failed[0]
        lines = "\n".join(f"  {line}" for line in stage.reasons)
        op = f" (operation {stage.operation_id})" if stage.operation_id else ""
        raise OperationFailedError(
            f"stage {stage.name} failed{op}; the rollout stopped. "
            f"Reasons:\n{lines}\nfix the cause and re-run: finished stages are skipped"
        )


def ask_stop_or_detach(stack_set: str, operation_id: str) -> str:
    """On Ctrl-C during a wait: "stop" the operation or "detach" (the default, and the
    only answer without a terminal to ask on)."""
    if not sys.stdin.isatty():
        return "detach"
    try:
        answer = click.prompt(
            f"\noperation {operation_id} of {stack_set} is still running: stop it "
            "(StopStackSetOperation; instances under way finish) or detach (it goes on, a "
            "re-run attaches to it)?",
            type=click.Choice(["stop", "detach"]),
            default="detach",
            err=True,
        )
    except click.Abort:
        return "detach"
    return str(answer)


def _fail_on_waiting(opts: Options, results: list[Any]) -> None:
    """The rollout stopped after the global stage: the new zone is not delegated yet."""
    if not results or results[-1].status != "waiting":
        return
    waiting = results[-1]
    records = "\n".join(f"  {line}" for line in waiting.reasons)
    rerun = " ".join(
        ["trading-dr deploy", f"--env {opts.env}"]
        + ([f"--profile {opts.profile}"] if opts.profile else [])
        + ([f"--from {opts.from_dir}"] if opts.from_dir else [])
    )
    raise DelegationPendingError(
        f"stopped after the global stage: the new hosted zone "
        f"{waiting.outputs.get('HostedZoneId')} is not delegated yet, and ACM cannot validate "
        "the API certificates until it is; fix: add these NS records at the parent zone:\n"
        f"{records}\nthen run: {rerun} (it goes on once DNS answers with these name servers)"
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
        _print_stages(opts, results, "deploy")
        _fail_on_failed(results)
        _fail_on_waiting(opts, results)

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
        _print_stages(opts, [result], "bootstrap")

    run(opts, action)


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
    """Stack sets, their instances and statuses, the last operation, and per region the
    accepted trades not yet stored (journal)."""
    opts = Options(**kwargs)

    def action() -> None:
        from trading_dr.deploy.journal_status import describe, journal_backlog
        from trading_dr.deploy.status import regional_status, status

        if region is not None:
            with deployment(opts, lambda env: region) as dep:
                found = regional_status(dep, region)
                found["journal"] = journal_backlog(dep, (region,))
            _print_regional_status(opts, found)
            return
        with deployment(opts) as dep:
            rows = status(dep)
            journal = journal_backlog(dep)
        if opts.output == "json":
            click.echo(json.dumps({"stack_sets": rows, "journal": journal}, indent=2, default=str))
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


@click.command("destroy")
@common_options
@click.option(
    "--retain-stacks",
    is_flag=True,
    help="Remove protected (or INOPERABLE) instances with RetainStacks: their stacks stay.",
)
@click.option(
    "--lift-deletion-protection",
    "lift",
    is_flag=True,
    help="Turn the databases' deletion protection off first (asks to type the env name).",
)
def destroy_command(retain_stacks: bool, lift: bool, **kwargs: Any) -> None:
    """Delete the stack sets in reverse order (needs --yes); lists what AWS retains."""
    opts = Options(**kwargs)

    def action() -> None:
        from trading_dr.deploy.bootstrap import present_bootstrap
        from trading_dr.deploy.teardown import deployed_stack_sets, destroy, retained_resources

        with deployment(opts) as dep:
            present = deployed_stack_sets(dep)
            kept = retained_resources(dep.files) if present else []
            protection = _protection_choice(opts, dep, present, retain_stacks, lift)
            if present and not opts.yes and protection.value != "lift":
                lines = "\n".join(f"  {k}" for k in kept)
                raise UsageError(
                    f"destroy deletes the stack sets of {opts.env} ({', '.join(present)}); "
                    f"resources kept by their DeletionPolicy:\n{lines}\n"
                    "fix: re-run with --yes to confirm"
                )
            results = destroy(dep, protection) if present else []
            bootstrap = present_bootstrap(dep.clients, dep.pacing, dep.env)
        if opts.output == "json":
            body = {
                "stages": [r.as_json() for r in results],
                "nothing_deployed": not present,
                "retained": kept,
                "bootstrap_left": bootstrap,
            }
            click.echo(json.dumps(body, indent=2))
        elif not present:
            click.echo(f"destroy: nothing deployed for {opts.env} (no stack set exists)")
        else:
            _print_stages(opts, results, "destroy")
        _fail_on_failed(results)
        if opts.output != "text":
            return
        if kept:
            click.echo("retained by DeletionPolicy (delete by hand if intended):")
            click.echo("\n".join(f"  {line}" for line in kept))
        if bootstrap:
            click.echo(
                "bootstrap resources left in place (destroy never deletes them; other "
                "environments may use them; delete by hand once none does):"
            )
            click.echo("\n".join(f"  {line}" for line in bootstrap))

    run(opts, action)


def _protection_choice(
    opts: Options, dep: Any, present: list[str], retain_stacks: bool, lift: bool
) -> Any:
    """How destroy deals with deletion protection: refuse (explaining), RetainStacks, or
    lifting it after the environment's name is typed."""
    from trading_dr.deploy.plan import stack_set_name
    from trading_dr.deploy.teardown import Protection, inoperable_instances, protected_resources

    if retain_stacks and lift:
        raise UsageError(
            "--retain-stacks and --lift-deletion-protection exclude each other; fix: pass one"
        )
    guarded = {
        role: items
        for role, items in protected_resources(dep.files).items()
        if stack_set_name(dep.env, role) in present
    }
    stuck = inoperable_instances(dep) if present else {}
    if not guarded and not stuck:
        return Protection.REFUSE  # nothing protected: a plain delete works
    what = [f"{role.value}: {name} ({kind}) DeletionProtection true" for role, items
            in guarded.items() for name, kind in items]  # fmt: skip
    what += [f"{name}: INOPERABLE instance(s) in {', '.join(a)}" for name, a in stuck.items()]
    listing = "\n".join(f"  {line}" for line in what)
    if retain_stacks:
        return Protection.RETAIN
    if not lift:
        raise UsageError(
            f"destroy cannot delete these stack instances as they are:\n{listing}\n"
            "CloudFormation's delete fails on a protected database and leaves the instance "
            "INOPERABLE; fix: --retain-stacks (the stack sets go, those stacks stay in the "
            "account to delete by hand), or --lift-deletion-protection (turns it off, then "
            "deletes; the Snapshot policy keeps a final snapshot)"
        )
    if stuck and not guarded:
        raise UsageError(
            f"{listing}\nINOPERABLE instances can only be removed with RetainStacks; fix: "
            "--retain-stacks"
        )
    typed = click.prompt(
        f"Deletion protection will be turned off for:\n{listing}\n"
        f"Type the environment name ({opts.env}) to confirm",
        default="",
        show_default=False,
        err=True,
    )
    if typed.strip() != opts.env:
        raise UsageError(
            f"deletion protection not lifted: {typed.strip()!r} is not {opts.env!r}; fix: type "
            "the environment name exactly, or use --retain-stacks"
        )
    return Protection.LIFT


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
@click.option("--debug", is_flag=True)
def local_aws_command(port: int, debug: bool) -> None:
    """Run the embedded local AWS until interrupted (Ctrl-C)."""
    from trading_dr.local_aws.server import LocalAws

    server = LocalAws(port=port, verbose=debug)
    opts = Options("prod", None, None, True, "text", debug, False, None)

    def start() -> list[str]:
        from trading_dr.generator import DEFAULT_ENVIRONMENTS, select_environments

        server.start()
        return [
            item
            for env in select_environments(DEFAULT_ENVIRONMENTS, [])
            for item in server.provide(env)
        ]

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
