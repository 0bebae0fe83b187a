"""The audit pack: REPORT.md, REPORT.html and the architecture diagram (SVG, PNG) of one
environment, derived only from its rendered templates (as dicts), never typed by hand.

`build_pack(env, templates)` returns relative path -> bytes, so the generator writes the
pack with the same atomic tree swap as the templates.
"""

from __future__ import annotations

from pathlib import Path

from trading_dr.audit.budget import budget_section
from trading_dr.audit.diagram import diagrams
from trading_dr.audit.encryption import encryption_section
from trading_dr.audit.exposure import exposure_section
from trading_dr.audit.graphviz import PendingDiagrams
from trading_dr.audit.iam import iam_section
from trading_dr.audit.inventory import inventory_section
from trading_dr.audit.model import Section, Templates
from trading_dr.audit.render import to_html, to_markdown
from trading_dr.audit.replication import replication_section
from trading_dr.audit.scanners import ScanSummary, scanner_section
from trading_dr.audit.summary import summary_section
from trading_dr.config import Environment

PACK_FILES = ("REPORT.md", "REPORT.html", "architecture.svg", "architecture.png")
LEGEND = (
    "Solid arrows: data flow; dashed blue: replication; dotted green: DNS failover; "
    "grey: control (schedules, alarms, the failover workflow's targets)."
)


def _architecture(stems: list[str]) -> Section:
    images = [f"![{stem}]({stem}.svg)" for stem in stems]
    return Section(
        "Architecture",
        (
            "The overview shows what links the regions (data stores, replication, DNS "
            "failover); then one diagram per regional template with every function, queue, "
            "alarm-driven rule and store, its links to other templates drawn dashed. " + LEGEND,
            *images,
        ),
    )


def sections(
    env: Environment,
    templates: Templates,
    scans: list[ScanSummary] | None,
    diagram_stems: list[str] | None = None,
) -> list[Section]:
    """The report's sections after the summary, in order; the summary reads their findings."""
    return [
        _architecture(diagram_stems or ["architecture"]),
        inventory_section(templates),
        iam_section(templates),
        encryption_section(templates),
        exposure_section(templates),
        replication_section(templates),
        budget_section(templates, env),
        scanner_section(templates, scans),
    ]


def build_pack(
    env: Environment,
    templates: Templates,
    scans: list[ScanSummary] | None = None,
    cache_dir: Path | None = None,
) -> dict[str, bytes]:
    title = f"trading-dr audit pack: {env.name}"
    sources = diagrams(templates, f"trading-dr {env.name}")
    # dot draws while the report's text is built; the diagrams are collected at the end.
    pending = PendingDiagrams(sources, cache_dir)
    preamble = (
        "Templates "
        + ", ".join(f"`{role.value}.yaml`" for role in templates)
        + ". Every table of this report is derived from the rendered templates by "
        "`trading_dr.audit`; regenerate with `python generate.py`.",
    )
    parts = sections(env, templates, scans, list(sources))
    parts.insert(0, summary_section(env, templates, parts, scans))
    markdown = to_markdown(title, preamble, parts)
    files: dict[str, bytes] = {}
    for stem, (svg, png) in pending.result().items():
        files[f"{stem}.svg"], files[f"{stem}.png"] = svg, png
    svgs = {name: data for name, data in files.items() if name.endswith(".svg")}
    return {
        "REPORT.md": markdown.encode(),
        "REPORT.html": to_html(title, markdown, svgs).encode(),
        **files,
    }
