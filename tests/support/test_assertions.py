"""The assertion helpers themselves: each must be able to fail."""

from __future__ import annotations

import pytest

from tests.support.assertions import (
    has_resource_properties,
    matches,
    policy_statements,
    resource_count_is,
)

TEMPLATE = {
    "Resources": {
        "A": {"Type": "AWS::S3::Bucket", "Properties": {"X": {"Y": 1, "Z": [1, 2]}}},
        "B": {"Type": "AWS::S3::Bucket", "Properties": {"X": {"Y": 2}}},
        "R": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Sid": "T"}]}
            },
        },
    }
}


@pytest.mark.parametrize(
    ("actual", "expected", "result"),
    [
        ({"a": 1, "b": 2}, {"a": 1}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": [1, 2]}, {"a": [1]}, False),
        ({"a": [{"b": 1, "c": 2}]}, {"a": [{"b": 1}]}, True),
        ({"a": 1}, {"missing": 1}, False),
    ],
)
def test_matches_is_a_recursive_subset(actual: object, expected: object, result: bool) -> None:
    assert matches(actual, expected) is result


def test_count_and_properties() -> None:
    resource_count_is(TEMPLATE, "AWS::S3::Bucket", 2)
    assert has_resource_properties(TEMPLATE, "AWS::S3::Bucket", {"X": {"Y": 2}}) == "B"
    with pytest.raises(AssertionError):
        resource_count_is(TEMPLATE, "AWS::S3::Bucket", 3)
    with pytest.raises(AssertionError):
        has_resource_properties(TEMPLATE, "AWS::S3::Bucket", {"X": {"Y": 3}})


def test_policy_statements_finds_nested_documents() -> None:
    assert list(policy_statements(TEMPLATE)) == [("R", {"Sid": "T"})]
