"""awacs helpers: conditions merge instead of overwriting, unscoped needs a justification."""

from __future__ import annotations

import pytest
from awacs import s3, xray
from awacs.aws import Bool, StringEquals

from trading_dr.policies import UNSCOPED_ACTIONS, all_of, unscoped


def test_all_of_keeps_every_key_of_the_same_operator() -> None:
    condition = all_of(StringEquals("a", "1"), Bool("c", "true"), StringEquals("b", "2"))
    assert condition.JSONrepr() == {
        "StringEquals": {"a": "1", "b": "2"},
        "Bool": {"c": "true"},
    }


def test_all_of_refuses_a_key_given_twice() -> None:
    with pytest.raises(ValueError, match="condition key a given twice under StringEquals"):
        all_of(StringEquals("a", "1"), StringEquals("a", "2"))


def test_unscoped_accepts_only_justified_actions() -> None:
    statement = unscoped("Traces", [xray.PutTraceSegments])
    assert statement.Resource == ["*"]
    assert "xray:PutTraceSegments" in UNSCOPED_ACTIONS
    with pytest.raises(ValueError, match="s3:GetObject has no justification"):
        unscoped("Objects", [s3.GetObject])
