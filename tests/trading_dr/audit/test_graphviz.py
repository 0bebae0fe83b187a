"""dot runs: all diagrams drawn at once, errors reported, the content cache honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from trading_dr.audit import graphviz
from trading_dr.audit.graphviz import PendingDiagrams, render_diagram
from trading_dr.errors import OperationFailedError

SOURCES = {"a": "digraph { x -> y }", "b": "digraph { p -> q -> r }"}


def test_every_dot_starts_before_any_result_is_awaited(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a record of when dot processes start and when their results are read
    events: list[str] = []
    real = graphviz.DotRun

    class Recorded(real):  # type: ignore[misc, valid-type]
        def __init__(self, dot: Path, source: str) -> None:
            events.append("start")
            super().__init__(dot, source)

        def result(self) -> tuple[bytes, bytes]:
            events.append("result")
            value: tuple[bytes, bytes] = super().result()
            return value

    monkeypatch.setattr(graphviz, "DotRun", Recorded)
    # WHEN two diagrams are drawn
    drawn = PendingDiagrams(SOURCES, None).result()
    # THEN both started before either was awaited, and come back in the given order
    assert events == ["start", "start", "result", "result"]
    assert list(drawn) == ["a", "b"]
    # AND each is what a lone run draws
    assert drawn["b"] == render_diagram(SOURCES["b"], None)
    assert drawn["a"][0].startswith(b"<?xml")
    assert drawn["a"][1].startswith(b"\x89PNG")


def test_a_dot_error_is_reported_with_dots_message() -> None:
    with pytest.raises(OperationFailedError, match="dot failed"):
        render_diagram("digraph { x -> }", None)


def test_a_cached_diagram_starts_no_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the diagrams drawn once into a cache
    first = PendingDiagrams(SOURCES, tmp_path).result()

    # WHEN drawn again with dot made unusable
    def refuse(*_: object) -> None:
        raise AssertionError("dot started although the diagram was cached")

    monkeypatch.setattr(graphviz, "DotRun", refuse)
    # THEN the cached bytes come back unchanged
    assert PendingDiagrams(SOURCES, tmp_path).result() == first
