"""Command-line layer: parse options, call plain functions, map errors to exit codes.

Nothing here builds templates or talks to AWS; it only turns TradingDrError into a
one-line message and its exit code (`--debug` shows the traceback instead).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from trading_dr.errors import TradingDrError

T = TypeVar("T")


def run_reporting_errors(debug: bool, action: Callable[[], T]) -> T:
    """Run `action`; a TradingDrError exits with its code and message on stderr."""
    try:
        return action()
    except TradingDrError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


def generate_options(function: Callable[..., None]) -> Callable[..., None]:
    from trading_dr import generator

    options = [
        click.option(
            "--env",
            "envs",
            multiple=True,
            metavar="NAME",
            help="Environment to render (repeatable); default: every environments/*.yaml.",
        ),
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            default=generator.DEFAULT_OUT,
            show_default="out/",
            help="Output directory; writes OUT/<env>/templates/*.yaml.",
        ),
        click.option(
            "--templates-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=generator.DEFAULT_COMMITTED,
            show_default="templates/",
            help="Where the reviewed copy of the prod rendering lives.",
        ),
        click.option(
            "--environments-dir",
            type=click.Path(file_okay=False, path_type=Path),
            default=generator.DEFAULT_ENVIRONMENTS,
            show_default="environments/",
            help="Directory of environment YAML files.",
        ),
        click.option(
            "--check",
            is_flag=True,
            help="Write nothing; exit 1 with a diff summary if templates/ is stale.",
        ),
        click.option(
            "--scan",
            is_flag=True,
            help="Also run cfn-lint and checkov (slow) into out/<env>/audit/REPORT.md.",
        ),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@generate_options
def _generate(
    envs: tuple[str, ...],
    out: Path,
    templates_dir: Path,
    environments_dir: Path,
    check: bool,
    scan: bool,
    debug: bool,
) -> None:
    """Render the CloudFormation templates of the platform."""
    from trading_dr.generator import generate

    lines = run_reporting_errors(
        debug, lambda: generate(envs, out, templates_dir, environments_dir, check, scan)
    )
    for line in lines:
        click.echo(line)


generate_command = click.command(
    "generate", context_settings={"help_option_names": ["-h", "--help"]}
)(_generate)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trading-dr")
def cli() -> None:
    """trading-dr: generate and operate the multi-region trading DR platform."""


cli.add_command(generate_command)


def register_operating_commands() -> None:
    """Add the deployer's commands (bootstrap, plan, deploy, ...) to `cli`.

    Imported here, not at module level, so `generate.py` (which imports this module)
    never loads the deployer.
    """
    from trading_dr.deploy.commands import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


def main() -> None:
    register_operating_commands()
    cli()
