"""Resolving the rendered templates' intrinsics for a drill: all or an error."""

from __future__ import annotations

from typing import Any

import pytest

from trading_dr.local_aws.intrinsics import Resolver, UnresolvedError

RESOLVE = Resolver(
    refs={"Topic": "arn:topic", "Peer": "", "AWS::Region": "us-east-2"},
    attributes={("Cluster", "Arn"): "arn:cluster"},
    conditions={
        "HasPeer": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Peer"}, ""]}]},
        "Either": {"Fn::Or": [{"Condition": "HasPeer"}, {"Fn::Equals": ["a", "a"]}]},
    },
)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"Ref": "Topic"}, "arn:topic"),
        ({"Fn::GetAtt": ["Cluster", "Arn"]}, "arn:cluster"),
        ({"Fn::GetAtt": "Cluster.Arn"}, "arn:cluster"),
        ({"Fn::If": ["HasPeer", 2, 1]}, 1),
        ({"Fn::If": ["Either", 2, 1]}, 2),
        ({"Fn::Sub": "x-${AWS::Region}"}, "x-us-east-2"),
        ({"Fn::Sub": ["${A}/${Topic}", {"A": {"Ref": "AWS::Region"}}]}, "us-east-2/arn:topic"),
        ({"List": [{"Ref": "Topic"}, 3]}, {"List": ["arn:topic", 3]}),
    ],
)
def test_resolves(node: Any, expected: Any) -> None:
    assert RESOLVE(node) == expected


@pytest.mark.parametrize(
    "node",
    [
        {"Ref": "Nothing"},
        {"Fn::GetAtt": ["Cluster", "Endpoint"]},
        {"Fn::If": ["Unknown", 1, 2]},
        {"Fn::ImportValue": "x"},
        {"Fn::Sub": "${Missing}"},
    ],
)
def test_what_it_cannot_resolve_is_an_error(node: Any) -> None:
    with pytest.raises(UnresolvedError):
        RESOLVE(node)
