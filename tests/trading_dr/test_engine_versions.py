"""Engine versions: the snapshot of cfn-lint's data is current, and validation refuses what RDS
would (deprecated, unknown, not global-capable) with the list of valid versions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trading_dr import engine_versions
from trading_dr.engine_data import CFN_LINT_VERSION, DEPRECATED
from trading_dr.engine_versions import (
    DATA_MODULE,
    allowed_versions,
    check_engine_version,
    supports_global_database,
)


def test_snapshot_is_what_the_installed_cfn_lint_ships() -> None:
    # A lock upgrade that brings new deprecations fails here until the snapshot is rewritten.
    expected = engine_versions.render_data_module()
    assert DATA_MODULE.read_text(encoding="utf-8") == expected, (
        "error: src/trading_dr/engine_data.py is stale; fix: python -m trading_dr.engine_versions"
    )


def test_deprecated_versions_are_not_allowed() -> None:
    assert "16.6" in DEPRECATED
    assert not set(DEPRECATED) & set(allowed_versions())


# fmt: off
GLOBAL_CASES = [
    ("16.11", True), ("16.1", True), ("17.4", True), ("17.3", False), ("15.2", True),
    ("15.1", False), ("11.6", False), ("18.4", False), ("16", False), ("16.4-limitless", False),
    ("", False), ("x.y", False),
]
# fmt: on


@pytest.mark.parametrize(("version", "expected"), GLOBAL_CASES)
def test_global_database_support(version: str, expected: bool) -> None:
    assert supports_global_database(version) is expected


@pytest.mark.parametrize(
    ("version", "words"),
    [
        ("16.6", "is deprecated"),
        ("16.99", "not an Aurora PostgreSQL version"),
        ("16.4-limitless", "does not support Aurora global databases"),
    ],
)
def test_refusal_names_why_the_source_and_the_valid_list(version: str, words: str) -> None:
    with pytest.raises(ValueError, match=words) as caught:
        check_engine_version(version)
    message = str(caught.value)
    assert f"cfn-lint {CFN_LINT_VERSION}" in message
    assert "fix: use one of " + ", ".join(allowed_versions()) in message


@given(st.text(max_size=20))
def test_any_input_is_accepted_only_when_allowed(version: str) -> None:
    refusal = ""
    try:
        check_engine_version(version)
    except ValueError as error:
        refusal = str(error)
    assert (version in allowed_versions()) is (not refusal)
    assert not refusal or "fix: use one of" in refusal
