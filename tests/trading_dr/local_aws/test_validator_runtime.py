"""The deployed validator's real code in the local AWS: its network model and its dispatch."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from trading_dr.local_aws import faults, validator_runtime

ENVIRON = {
    "SELF_HEALTH_URL": "https://us-east-2.api.example.com/health",
    "PEER_HEALTH_URL": "https://us-east-1.api.example.com/health?probe=liveness",
    "PEER_REGION": "us-east-1",
}


@pytest.fixture(autouse=True)
def _no_faults() -> None:
    faults.clear()


@pytest.mark.parametrize(
    ("down", "url", "status"),
    [
        ((), ENVIRON["SELF_HEALTH_URL"], 200),
        ((), ENVIRON["PEER_HEALTH_URL"], 200),
        (("us-east-1",), ENVIRON["PEER_HEALTH_URL"], 0),
        (("us-east-1",), ENVIRON["SELF_HEALTH_URL"], 200),
        (("us-east-2",), ENVIRON["PEER_HEALTH_URL"], 0),  # nothing leaves a region that is down
        ((), "https://elsewhere.example.com/health", 0),  # not part of the platform
    ],
    ids=["self-up", "peer-up", "peer-down", "self-up-peer-down", "self-down", "unknown-url"],
)
def test_network_model(down: tuple[str, ...], url: str, status: int) -> None:
    for region in down:
        faults.region_down(region)
    assert validator_runtime.network("us-east-2", ENVIRON)(url) == status


def test_other_functions_are_not_run() -> None:
    other = SimpleNamespace(handler="intake_handler.handler", environment_vars={})
    assert validator_runtime.answer("111111111111", "us-east-2", other, b"{}") is None


def test_an_unknown_action_is_the_handlers_error() -> None:
    validator = SimpleNamespace(handler=validator_runtime.VALIDATOR_HANDLER, environment_vars={})
    answer = json.loads(
        validator_runtime.answer("111111111111", "us-east-2", validator, b'{"action": "x"}') or ""
    )
    # Its settings are missing first: the handler reads them before dispatching.
    assert answer["errorType"] == "SettingsError"
