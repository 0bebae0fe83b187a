"""What every `trading-dr` operating command shares: the common options, the endpoint check,
the mapping of AWS errors onto the tool's error hierarchy, the deployment a command acts
on, and how stage results are printed and turned into exit codes."""

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
            help="Use the background local AWS, started if none runs; its state lasts "
            "across commands until `trading-dr local-aws --stop`.",
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
    from trading_dr.deploy.deployed import Deployment
    from trading_dr.deploy.progress import make_progress
    from trading_dr.deploy.retry import Pacing
    from trading_dr.generator import DEFAULT_ENVIRONMENTS, render_environment, select_environments

    env = select_environments(DEFAULT_ENVIRONMENTS, [opts.env])[0]
    check_single_account(env)
    endpoint_url = check_endpoint_url(opts.endpoint_url) if opts.endpoint_url else None
    files = _read_tree(opts.from_dir, env) if opts.from_dir else dict(render_environment(env).files)
    home = region_of(env) if region_of else env.primary.region
    session_kwargs: dict[str, Any] = {"region_name": home}
    if opts.local:
        from trading_dr.local_aws.daemon import ensure_running
        from trading_dr.local_aws.server import LOCAL_CREDENTIALS

        endpoint_url = ensure_running(lambda line: click.echo(line, err=True)).endpoint_url
        session_kwargs.update(LOCAL_CREDENTIALS)
    elif opts.profile:
        session_kwargs["profile_name"] = opts.profile
    progress = make_progress(sys.stdout if opts.output == "text" else sys.stderr)
    try:
        session = boto3.Session(**session_kwargs)
        clients = Clients(
            session,
            endpoint_url,
            local_account=env.accounts[0] if opts.local else None,
            sts_region=home,
            local_cross_account=is_loopback(endpoint_url),
        )
        if opts.local and region_of is None:
            # Route 53 answers from us-east-1: a command that must survive the other
            # region's outage (region_of) does not ask it.
            from trading_dr.local_aws.daemon import require_provided

            require_provided(clients, env)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        check = is_delegated if check_delegation and not opts.local else None
        yield Deployment(
            env, files, clients, Pacing(), progress, deadline, ask_stop_or_detach, check
        )
    finally:
        progress.close()


def print_stages(opts: Options, results: list[Any], verb: str) -> None:
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


def fail_on_failed(results: list[Any]) -> None:
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


def fail_on_waiting(opts: Options, results: list[Any]) -> None:
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
