"""Deterministic YAML: same environment, byte-identical files, in and across processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.templates import ROOT, environment, template_text
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
    assert sorted(outputs[0]) == ["global.yaml", "primary.yaml", "secondary.yaml"]


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
