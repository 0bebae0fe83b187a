"""The report's two renderings: Markdown (reviewed in pull requests) and a standalone HTML
page made from that Markdown by Python-Markdown (no external assets: auditors open it from
a zip or a mail attachment, so the diagrams are inlined as SVG scaled to the page width).

The first section (the summary) opens the report, before the table of contents. Table cells
are data from the templates, not Markdown: they are escaped, so `s3:*` or `<account>` read
as written on GitHub and in the HTML alike (tests/trading_dr/audit/test_render.py).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from trading_dr.audit.model import Section, Table
from trading_dr.errors import UsageError

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; color: #263238; margin: 0;
       font-size: 15px; line-height: 1.45; }
main { max-width: 78rem; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.7rem; margin-top: 0.5rem; }
h2 { border-bottom: 1px solid #cfd8dc; padding-bottom: 0.2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: 0.3rem 0 1.4rem; font-size: 0.8rem;
        width: 100%; }
th, td { border: 1px solid #b0bec5; padding: 0.2rem 0.45rem; text-align: left;
         vertical-align: top; overflow-wrap: break-word; }
th { background: #eceff1; }
tr:nth-child(even) td { background: #fafafa; }
code { background: #eceff1; padding: 0 0.2em; border-radius: 3px; font-size: 0.92em; }
figure { margin: 0.5rem 0 1.5rem; }
figure svg { display: block; width: 100%; height: auto; border: 1px solid #cfd8dc; }
figcaption { font-size: 0.85rem; color: #546e7a; margin-top: 0.3rem; }
""".strip()

# Characters that would make Markdown out of a cell's text; `&` first so the entities
# written for `<` and `>` are not escaped again.
_CELL_ESCAPES = (
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ("\\", "\\\\"),
    ("|", "\\|"),
    ("`", "\\`"),
    ("*", "\\*"),
    ("_", "\\_"),
    ("[", "\\["),
    ("]", "\\]"),
)


def md_cell(text: str) -> str:
    for raw, escaped in _CELL_ESCAPES:
        text = text.replace(raw, escaped)
    return text.replace("\n", " ") or " "


def _md_table(t: Table) -> list[str]:
    lines = [f"**{t.caption}**", ""] if t.caption else []
    lines.append("| " + " | ".join(md_cell(h) for h in t.headers) + " |")
    lines.append("|" + "|".join(" --- " for _ in t.headers) + "|")
    lines += ["| " + " | ".join(md_cell(c) for c in row) + " |" for row in t.rows]
    if not t.rows:
        lines.append("| " + " | ".join(["(none)"] + [" "] * (len(t.headers) - 1)) + " |")
    return [*lines, ""]


def _md_section(section: Section) -> list[str]:
    lines = [f"## {section.title}", ""]
    lines += [f"{p}\n" for p in section.paragraphs]
    for t in section.tables:
        lines += _md_table(t)
    if section.notes:
        lines += [f"- {note}" for note in section.notes] + [""]
    return lines


def to_markdown(title: str, preamble: Sequence[str], sections: Sequence[Section]) -> str:
    """`# title`, the first section (the summary), the preamble, contents, the rest."""
    first, rest = sections[0], sections[1:]
    lines = [f"# {title}", "", *_md_section(first), *[f"{p}\n" for p in preamble]]
    lines += ["## Contents", ""]
    lines += [f"{i}. [{s.title}](#{anchor(s.title)})" for i, s in enumerate(sections, 1)]
    lines.append("")
    for section in rest:
        lines += _md_section(section)
    return "\n".join(lines).rstrip() + "\n"


def anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, spaces to hyphens, punctuation dropped."""
    kept = "".join(c for c in title.lower() if c.isalnum() or c in " -")
    return kept.replace(" ", "-")


_CELL = re.compile(r"(<td>)(.*?)(</td>)", re.DOTALL)
# After an ARN's separators, and inside CamelCase ids (`CloudWatchLogsEncrypts...`).
_BREAK_AFTER = re.compile(r"([:/,.=@-]|[a-z](?=[A-Z]))(?=[^\s<])")


def _breakable(cell: str) -> str:
    """Break opportunities: a long ARN or id wraps at `:`, `/` or a capital instead of
    widening its column past the page; a browser breaks there only when the column must
    (cells hold escaped text, no tags, so a <wbr> only lands between characters)."""
    return _BREAK_AFTER.sub(r"\1<wbr>", cell)


_SVG_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"')
_IMG = re.compile(r'<img alt="([^"]*)" src="([^"]+\.svg)"\s*/?>')


def inline_svg(svg: bytes, label: str) -> str:
    """dot's SVG without its XML prolog, scaled to the page width and never above its
    natural size (a small diagram is not blown up)."""
    body = "<svg" + svg.decode().split("<svg", 1)[1]
    size = _SVG_SIZE.search(body)
    if size is None:
        raise ValueError("the diagram's SVG has no width/height in pt: not dot's output")
    width = float(size.group(1))
    return _SVG_SIZE.sub(
        f'<svg role="img" aria-label="{html.escape(label)}" '
        f'style="max-width: {width:g}pt" preserveAspectRatio="xMidYMin meet"',
        body,
        count=1,
    )


def to_html(title: str, markdown_text: str, figures: Mapping[str, bytes]) -> str:
    """The page for `markdown_text`; each image of an SVG in `figures` is inlined."""
    # Imported here: only the audit pack needs it, not every user of this package.
    try:
        import markdown
        from markdown.extensions.toc import TocExtension
    except ImportError:
        raise UsageError(
            "Python-Markdown is not installed (it writes the audit pack's REPORT.html); "
            "fix: bash scripts/setup (or python -m pip install -e .)"
        ) from None

    body = markdown.markdown(
        markdown_text,
        extensions=["tables", TocExtension(slugify=lambda value, _separator: anchor(value))],
        output_format="html",
    )

    def figure(match: re.Match[str]) -> str:
        label, name = html.unescape(match.group(1)), match.group(2)
        if name not in figures:
            raise ValueError(f"the report shows {name}, which the pack does not hold")
        caption = f"<figcaption>{html.escape(label)} ({html.escape(name)})</figcaption>"
        return f"<figure>{inline_svg(figures[name], label)}{caption}</figure>"

    body = _IMG.sub(figure, body)
    body = _CELL.sub(lambda m: m.group(1) + _breakable(m.group(2)) + m.group(3), body)
    # A figure alone in a paragraph: drop the <p> around it (a <figure> may not sit in one).
    body = re.sub(r"<p>(<figure>.*?</figure>)</p>", r"\1", body, flags=re.DOTALL)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{_CSS}\n</style></head>\n"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )
