"""REPORT.html as a browser lays it out (headless Chromium through scripts/audit-screenshots,
installed by `scripts/setup --dev`): nothing wider than the window, the summary on the first
screen, every diagram scaled to the page with its node labels still legible."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.templates import ROOT, rendered

SCRIPT = ROOT / "scripts" / "audit-screenshots"
# dot's node labels are 11 pt (14.7 px at natural size); below ~8 px they blur into boxes.
LEGIBLE_PX = 8.0
NODE_FONT_PX = 11 * 4 / 3

pytestmark = pytest.mark.slow


def _layout(tmp_path: Path, width: int) -> dict[str, Any]:
    report = tmp_path / "REPORT.html"
    report.write_bytes(rendered("prod").files["audit/REPORT.html"])
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--measure", "--report", str(report), "--width", str(width)],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    layout: dict[str, Any] = json.loads(result.stdout)
    return layout


@pytest.mark.parametrize("width", [1280, 800])
def test_page_fits_the_window(tmp_path: Path, width: int) -> None:
    layout = _layout(tmp_path, width)
    assert layout["viewport"] == width
    assert layout["page"] <= width, "something is wider than the window"
    assert layout["widest_table"] <= layout["main"]
    assert layout["figures"], "no diagram in the page"
    for figure in layout["figures"]:
        assert figure["width"] <= layout["main"], figure
    assert layout["literal_backticks"] == 0
    assert layout["code"] > 5


def test_summary_is_the_first_screen(tmp_path: Path) -> None:
    layout = _layout(tmp_path, 1280)
    assert 0 < layout["summary"] <= 1100, layout["summary"]


def test_diagrams_are_legible_at_page_width(tmp_path: Path) -> None:
    layout = _layout(tmp_path, 1280)
    for figure in layout["figures"]:
        assert figure["scale"] * NODE_FONT_PX >= LEGIBLE_PX, figure
