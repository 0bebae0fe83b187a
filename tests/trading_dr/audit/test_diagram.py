"""The diagrams are legible at page width (issue 14, item 15): an overview plus one diagram
per region, each narrow enough to read when scaled to the page, with no edge label on a box
and no edge through a box it does not connect (positions from graphviz's own layout)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.templates import ALL_ROLES, ENVIRONMENTS, rendered, template
from trading_dr.audit.diagram import diagrams
from trading_dr.config import Role

# Before: one 4599 x 897 px diagram. A page is ~1216 CSS px wide (REPORT.html at 1280);
# at most 1.8x that keeps 11 pt labels at >= 8 px (test_html_browser measures it too).
MAX_WIDTH_PX = 2200
DPI = 96  # dot's default for PNG; -Tplain gives inches


@dataclass(frozen=True)
class Box:
    name: str
    x0: float
    y0: float
    x1: float
    y1: float

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        return self.x0 + margin < x < self.x1 - margin and self.y0 + margin < y < self.y1 - margin

    def overlaps(self, other: Box) -> bool:
        return (
            self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1
        )


def _templates(env: str) -> dict[Role, Any]:
    return {role: template(env, role) for role in ALL_ROLES}


def _layout(
    source: str,
) -> tuple[float, list[Box], list[tuple[str, str, list[tuple[float, float]], Box | None]]]:
    plain = subprocess.run(
        ["dot", "-Tplain"], input=source, capture_output=True, text=True, check=True
    ).stdout
    nodes: list[Box] = []
    edges = []
    width = 0.0
    for line in plain.splitlines():
        parts = line.split()
        if parts[0] == "graph":
            width = float(parts[2])
        elif parts[0] == "node":
            x, y, w, h = (float(v) for v in parts[2:6])
            nodes.append(Box(parts[1], x - w / 2, y - h / 2, x + w / 2, y + h / 2))
        elif parts[0] == "edge":
            n = int(parts[3])
            points = [(float(parts[4 + 2 * i]), float(parts[5 + 2 * i])) for i in range(n)]
            rest = parts[4 + 2 * n :]
            label = None
            if len(rest) >= 5 and rest[0].startswith('"'):
                text = line.split('"')[1]
                lx, ly = float(line.split('"')[2].split()[0]), float(line.split('"')[2].split()[1])
                # 9 pt labels: ~0.55 em per character, one line high.
                half_w, half_h = len(text) * 9 * 0.55 / 72 / 2, 9 / 72 / 2
                label = Box(text, lx - half_w, ly - half_h, lx + half_w, ly + half_h)
            edges.append((parts[1], parts[2], points, label))
    return width, nodes, edges


def _bezier(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    samples = []
    for i in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = points[i : i + 4]
        for step in range(1, 10):
            t = step / 10
            a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
            samples.append(
                (
                    a * p0[0] + b * p1[0] + c * p2[0] + d * p3[0],
                    a * p0[1] + b * p1[1] + c * p2[1] + d * p3[1],
                )
            )
    return samples


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_one_overview_and_one_diagram_per_region(env: str) -> None:
    assert list(diagrams(_templates(env), "t")) == [
        "architecture",
        "architecture-primary",
        "architecture-secondary",
        "architecture-observer",
    ]
    files = rendered(env).files
    for stem in ("architecture", "architecture-primary", "architecture-secondary"):
        assert files[f"audit/{stem}.png"].startswith(b"\x89PNG")
        assert f"({stem}.svg)".encode() in files["audit/REPORT.md"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_diagrams_fit_the_page(env: str) -> None:
    for stem, source in diagrams(_templates(env), "t").items():
        png = rendered(env).files[f"audit/{stem}.png"]
        width = int.from_bytes(png[16:20], "big")
        assert width <= MAX_WIDTH_PX, f"{stem}: {width} px"
        assert _layout(source)[0] * DPI <= MAX_WIDTH_PX + 1


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_label_on_a_box_and_no_edge_through_one(env: str) -> None:
    problems = []
    for stem, source in diagrams(_templates(env), "t").items():
        _, nodes, edges = _layout(source)
        for tail, head, points, label in edges:
            if label is not None:
                problems += [
                    f"{stem}: label {label.name!r} on {n.name}" for n in nodes if label.overlaps(n)
                ]
            for node in nodes:
                if node.name in (tail, head):
                    continue
                if any(node.contains(x, y, margin=0.05) for x, y in _bezier(points)):
                    problems.append(f"{stem}: edge {tail} -> {head} through {node.name}")
    assert problems == []


def test_diagrams_draw_replication_flows_and_dns_failover() -> None:
    sources = diagrams(_templates("prod"), "t")
    overview, primary = sources["architecture"], sources["architecture-primary"]
    for edge in (
        "primary_DbCluster -> global_GlobalCluster",
        "secondary_DbCluster -> global_GlobalCluster",
        "global_SessionsTable -> primary_SessionsReplica",
        "primary_ConfigBucket -> secondary_ConfigBucket",
        "primary_AuditBucket -> secondary_AuditBucket",
        'global_HostedZone -> primary_ApiFailoverRecord [label="PRIMARY"',
        'global_HostedZone -> secondary_ApiFailoverRecord [label="SECONDARY"',
    ):
        assert edge in overview, edge
    assert "dir=both" in overview, "replication both ways is one two-headed arrow"
    for flow in (
        'primary_TradingApi -> primary_IntakeFunction [label="POST /trades"',
        "primary_IntakeFunction -> primary_TradeQueue",
        "primary_TradeQueue -> primary_ProcessorFunction",
        "primary_ProcessorFunction -> primary_DbCluster",
        "primary_ProcessorFunction -> primary_AuditBucket",
        "primary_AuditBucket -> secondary_AuditBucket",
    ):
        assert flow in primary, flow
    assert "IntakeFunction" not in overview
    assert "secondary_ProcessorFunction" not in primary
