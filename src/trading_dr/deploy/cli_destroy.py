"""`trading-dr destroy`: tear the stages down, asking before lifting deletion protection."""

from __future__ import annotations

import json
from typing import Any

import click

from trading_dr.deploy.cli_common import (
    Options,
    common_options,
    deployment,
    fail_on_failed,
    print_stages,
    run,
)
from trading_dr.errors import (
    UsageError,
)


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
            print_stages(opts, results, "destroy")
        fail_on_failed(results)
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
