"""cfn-lint with its own rules plus the project's rules pack (trading_dr.rules), as
`generate.py` runs it before writing anything and as the tests run it.

A clean result is remembered under out/.cache/lint/ by the hash of everything that decides it
(template text, region, cfn-lint's version, the rules pack's source), so re-rendering unchanged
templates costs nothing; any change to one of them lints again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from trading_dr.errors import OperationFailedError

# cfn-lint loads the pack as a directory of rule files, as the stock command does.
RULES_DIR = Path(__file__).resolve().parent / "rules"


def lint_template(text: str, region: str) -> list[str]:
    """Every finding (informational included) of cfn-lint and the rules pack, as text."""
    from cfnlint.api import ManualArgs, lint

    config = ManualArgs(regions=[region], include_checks=["I"], append_rules=[str(RULES_DIR)])
    return [str(match) for match in lint(text, config=config)]


def _key(text: str, region: str) -> str:
    digest = hashlib.sha256()
    for part in (metadata.version("cfn-lint"), region, text):
        digest.update(part.encode() + b"\0")
    for source in sorted(RULES_DIR.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def require_clean(
    label: str, templates: Mapping[str, tuple[str, str]], cache_dir: Path | None = None
) -> None:
    """Lint each template (name -> (text, region)); raise with every finding if any."""
    findings: list[str] = []
    for name, (text, region) in templates.items():
        marker = cache_dir / _key(text, region) if cache_dir else None
        if marker is not None and marker.exists():
            continue
        found = lint_template(text, region)
        findings.extend(f"{name}: {finding}" for finding in found)
        if marker is not None and not found:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
    if findings:
        raise OperationFailedError(
            f"cfn-lint (its rules and the rules pack) found {len(findings)} problem(s) in "
            f"{label}:\n  " + "\n  ".join(findings) + "\nfix: change the builder that makes "
            "the resource (each rule's source_url names the AWS document it enforces)"
        )
