"""The deployed observer function's real code in the local AWS: its network model."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from trading_dr.local_aws import faults, observer_runtime


@pytest.fixture(autouse=True)
def _no_faults() -> None:
    faults.clear()


TARGETS = {"us-east-1": "https://us-east-1.api.example.com/health?probe=liveness",
           "us-east-2": "https://us-east-2.api.example.com/health?probe=liveness"}  # fmt: skip


@pytest.mark.parametrize(
    ("down", "expected"),
    [
        ((), {"us-east-1": 200, "us-east-2": 200}),
        (("us-east-1",), {"us-east-1": 0, "us-east-2": 200}),
        (("us-west-2",), {"us-east-1": 0, "us-east-2": 0}),  # the observer's own region
    ],
    ids=["all-up", "primary-down", "observer-down"],
)
def test_observer_network_model(down: tuple[str, ...], expected: dict[str, int]) -> None:
    for region in down:
        faults.region_down(region)
    fetch = observer_runtime.network("us-west-2", TARGETS)
    assert {region: fetch(url) for region, url in TARGETS.items()} == expected
    assert fetch("https://elsewhere.example.com/") == 0


def test_only_the_observer_function_is_run_as_the_observer() -> None:
    observer = SimpleNamespace(handler="index.handler", environment_vars={"TARGETS": "{}"})
    inline = SimpleNamespace(handler="index.handler", environment_vars={})
    assert observer_runtime.is_observer(observer)
    assert not observer_runtime.is_observer(inline)
