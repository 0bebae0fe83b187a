"""The report's two renderings: Markdown (reviewed in pull requests) and a standalone HTML
page (no external assets: auditors open it from a zip or a mail attachment)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from trading_dr.audit.model import Section, Table

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #263238; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.85em; }
th, td { border: 1px solid #b0bec5; padding: 0.25em 0.5em; text-align: left;
         vertical-align: top; }
th { background: #eceff1; }
caption { text-align: left; font-weight: bold; padding: 0.3em 0; }
img { max-width: 100%; border: 1px solid #cfd8dc; }
nav li { display: inline; margin-right: 1em; }
""".strip()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def _md_table(t: Table) -> list[str]:
    lines = [f"**{t.caption}**", ""] if t.caption else []
    lines.append("| " + " | ".join(t.headers) + " |")
    lines.append("|" + "|".join(" --- " for _ in t.headers) + "|")
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
    if not t.rows:
        lines.append("| " + " | ".join(["(none)"] + [" "] * (len(t.headers) - 1)) + " |")
    return [*lines, ""]


def to_markdown(title: str, preamble: Sequence[str], sections: Sequence[Section]) -> str:
    lines = [f"# {title}", "", *[f"{p}\n" for p in preamble]]
    lines += ["## Contents", ""]
    lines += [f"{i}. [{s.title}](#{_anchor(s.title)})" for i, s in enumerate(sections, 1)]
    lines.append("")
    for section in sections:
        lines += [f"## {section.title}", ""]
        lines += [f"{p}\n" for p in section.paragraphs]
        for t in section.tables:
            lines += _md_table(t)
        if section.notes:
            lines += [f"- {note}" for note in section.notes] + [""]
    return "\n".join(lines).rstrip() + "\n"


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, spaces to hyphens, punctuation dropped."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return kept.replace(" ", "-")


def _html_table(t: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in t.headers)
    body = (
        "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in t.rows
        )
        or f'<tr><td colspan="{len(t.headers)}">(none)</td></tr>'
    )
    caption = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(title: str, preamble: Sequence[str], sections: Sequence[Section], svg: bytes) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *[f"<p>{html.escape(p)}</p>" for p in preamble],
        "<nav><ul>",
        *[f'<li><a href="#{_anchor(s.title)}">{html.escape(s.title)}</a></li>' for s in sections],
        "</ul></nav>",
        '<h2 id="architecture">Architecture</h2>',
        # Inline SVG (without its XML prolog) keeps the page a single standalone file.
        "<svg" + svg.decode().split("<svg", 1)[1],
    ]
    for section in sections:
        parts.append(f'<h2 id="{_anchor(section.title)}">{html.escape(section.title)}</h2>')
        parts += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        parts += [_html_table(t) for t in section.tables]
        if section.notes:
            items = "".join(f"<li>{html.escape(n)}</li>" for n in section.notes)
            parts.append(f"<ul>{items}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
