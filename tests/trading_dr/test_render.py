"""Deterministic YAML: same environment, byte-identical files, in and across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, ROOT, environment, template_text
from trading_dr.config import Role
from trading_dr.generator import render_environment
from trading_dr.render import TOP_LEVEL_ORDER, dump


def test_same_environment_same_bytes_in_process() -> None:
    first = render_environment(environment("prod")).files
    second = render_environment(environment("prod")).files
    assert first == second


def test_same_bytes_across_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        subprocess.run(
            [sys.executable, "generate.py", "--env", "prod", "--out", str(out),
             "--templates-dir", str(tmp_path / f"t{seed}")],
            cwd=ROOT, check=True, env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
        )  # fmt: skip
        outputs.append({p.name: p.read_bytes() for p in (out / "prod" / "templates").iterdir()})
    assert outputs[0] == outputs[1]
    assert sorted(outputs[0]) == ["global.yaml", "observer.yaml", "primary.yaml", "secondary.yaml"]


def test_top_level_keys_in_reading_order() -> None:
    data = yaml.safe_load(template_text("prod", Role.PRIMARY))
    keys = list(data)
    assert keys == [k for k in TOP_LEVEL_ORDER if k in data]
    first_resource = next(iter(data["Resources"].values()))
    assert next(iter(first_resource)) == "Type"


def test_dump_keeps_multiline_strings_readable_and_no_aliases() -> None:
    shared = {"a": 1}
    text = dump({"x": shared, "y": shared, "z": "line one\nline two\n"})
    assert "&" not in text
    assert "*" not in text
    assert "z: |\n  line one\n  line two\n" in text


class _Reference(yaml.SafeDumper):
    """PyYAML with the style the fast emitter follows: what the golden files were made with."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Reference.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar(
        "tag:yaml.org,2002:str", value, style="|" if "\n" in value else None
    ),
)


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("role", ALL_ROLES, ids=[r.value for r in ALL_ROLES])
def test_fast_emitter_writes_pyyamls_bytes(env: str, role: Role) -> None:
    data = yaml.safe_load(template_text(env, role))
    reference = yaml.dump(
        data, Dumper=_Reference, sort_keys=False, default_flow_style=False, width=1_000_000,
        allow_unicode=True, indent=2,
    )  # fmt: skip
    assert dump(data) == reference


# Strings chosen to trip a YAML emitter: implicit types, indicators, quotes, blocks.
TRICKY = [
    "",
    " ",
    "yes",
    "No",
    "on",
    "null",
    "~",
    "1",
    "0x1F",
    "1e3",
    "1_000",
    ".inf",
    "2024-01-01",
    "1:20",
    "<<",
    "=",
    "- a",
    "a: b",
    "a #b",
    "#c",
    "a:",
    "'q'",
    '"d"',
    "*x",
    "&y",
    "!z",
    "%p",
    "@m",
    "`t",
    "{a}",
    "[b]",
    "?",
    "|",
    ">",
    "a\tb",
    "tail ",
    " lead",
    "é ü",
    "\x07bell",
    "line\n",
    "two\nlines",
    "two\nlines\n",
    "blank\n\nmiddle\n",
    "trailing\n\n",
    " indented\nx",
    "space \nafter",
    "\nleading newline",
    "${AWS::Region}",
    "arn:aws:s3:::b/*",
    "a,b",
]


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.sampled_from(TRICKY) | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.sampled_from(TRICKY) | st.text(min_size=1), children, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_fast_emitter_round_trips_anything(value: Any) -> None:
    data = {"Value": value}
    assert yaml.load(dump(data), Loader=yaml.SafeLoader) == data
