"""Rendered templates of the shipped environments, cached once per test session."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from trading_dr.config import Environment, Role, load_environment
from trading_dr.generator import Rendered, render_environment

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ("prod", "dev")
REGIONAL = (Role.PRIMARY, Role.SECONDARY)
ALL_ROLES = (Role.GLOBAL, Role.PRIMARY, Role.SECONDARY, Role.OBSERVER)


@cache
def environment(name: str) -> Environment:
    return load_environment(ROOT / "environments" / f"{name}.yaml")


@cache
def rendered(name: str) -> Rendered:
    return render_environment(environment(name))


@cache
def template_text(name: str, role: Role) -> str:
    return rendered(name).files[f"templates/{role.value}.yaml"].decode()


def template(name: str, role: Role) -> dict[str, Any]:
    """The template as written to disk, parsed back (a fresh copy per call)."""
    data: dict[str, Any] = yaml.load(template_text(name, role), Loader=yaml.CSafeLoader)
    return data


def region_of(name: str, role: Role) -> str:
    return environment(name).region_of(role)
