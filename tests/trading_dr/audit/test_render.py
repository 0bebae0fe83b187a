"""The HTML page is the Markdown rendered by Python-Markdown: every table cell reads exactly
as the template data says (no Markdown made of `s3:*` or `<account>`), backticks become
code, headings carry the anchors the contents link to, and the diagram is inlined."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.support.templates import ENVIRONMENTS, environment, rendered, template
from trading_dr.audit import sections
from trading_dr.audit.model import Section, table
from trading_dr.audit.render import anchor, inline_svg, to_html, to_markdown
from trading_dr.config import Role

SVG = b'<?xml version="1.0"?>\n<svg width="300pt" height="100pt" viewBox="0 0 300 100"></svg>'


class _Cells(HTMLParser):
    """Text of every <td>, and every heading id."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.ids: list[str] = []
        self.code = 0
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self._cell = []
        if tag == "code":
            self.code += 1
        if tag in ("h1", "h2") and dict(attrs).get("id"):
            self.ids.append(str(dict(attrs)["id"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parsed(page: str) -> _Cells:
    parser = _Cells()
    parser.feed(page)
    return parser


def _page(rows: list[tuple[str, ...]], paragraphs: tuple[str, ...] = ()) -> _Cells:
    parts = [Section("S", paragraphs, (table(("a",) * len(rows[0]), rows),)), Section("T")]
    markdown = to_markdown("t", (), parts)
    return _parsed(to_html("t", markdown, {}))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_table_cell_reads_as_its_data(env: str) -> None:
    templates = {role: template(env, role) for role in (Role.GLOBAL, Role.PRIMARY, Role.SECONDARY)}
    expected = [
        " ".join(cell.split()) or ""
        for section in sections(environment(env), templates, None)
        for t in section.tables
        for row in t.rows
        for cell in row
    ]
    page = _parsed(rendered(env).files["audit/REPORT.html"].decode())
    shown = [" ".join(cell.split()) for cell in page.cells]
    missing = [cell for cell in expected if cell not in shown]
    assert len(expected) > 500
    assert missing == []


HOSTILE = [
    ("wildcards", "s3:*, arn:aws:s3:::b/*"),
    ("angle brackets", "arn:aws:ec2:us-east-1:<account>:subnet/<PrivateSubnetA>"),
    ("underscores", "_private_ and __dunder__"),
    ("backticks", "`not code`"),
    ("pipes", "a | b"),
    ("brackets", "[link](http://x) ![img](y.svg)"),
    ("entities", "&amp; &lt; & <"),
    ("backslashes", "C:\\path\\*"),
    ("html", "<script>alert(1)</script>"),
]


@pytest.mark.parametrize(("case", "text"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_cells_are_escaped(case: str, text: str) -> None:
    assert _page([(text, "x")]).cells == [text, "x"]


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60))
def test_any_cell_text_survives_markdown(text: str) -> None:
    assume(text.split())
    (cell,) = _page([(text,)]).cells
    assert " ".join(cell.split()) == " ".join(text.split())


def test_prose_is_markdown_and_headings_carry_the_contents_anchors() -> None:
    page = rendered("prod").files["audit/REPORT.html"].decode()
    parsed = _parsed(page)
    assert "`" not in re.sub(r"<[^>]+>", "", page.split("<main>", 1)[1]), "literal backticks"
    assert parsed.code > 5
    links = re.findall(r'<a href="#([^"]+)">', page)
    assert len(links) >= 8
    assert set(links) <= set(parsed.ids)
    assert anchor("Encryption at rest") == "encryption-at-rest"


def test_summary_opens_the_report() -> None:
    report = rendered("prod").files["audit/REPORT.md"].decode()
    headings = re.findall(r"^## (.+)$", report, re.MULTILINE)
    assert headings[:3] == ["Summary", "Contents", "Architecture"]


def test_diagram_is_inlined_and_scaled_to_the_page() -> None:
    page = rendered("prod").files["audit/REPORT.html"].decode()
    assert '<img alt="architecture"' not in page
    figure = page.split("<figure>", 1)[1].split("</figure>", 1)[0]
    assert figure.startswith("<svg ")
    assert 'width="' not in figure.split(">", 1)[0]
    assert "max-width:" in figure.split(">", 1)[0]
    scaled = inline_svg(SVG, "d")
    assert scaled.startswith('<svg role="img" aria-label="d" style="max-width: 300pt"')
    assert 'viewBox="0 0 300 100"' in scaled


def test_an_image_the_pack_does_not_hold_is_refused() -> None:
    with pytest.raises(ValueError, match=r"missing\.svg"):
        to_html("t", "![x](missing.svg)\n", {})
