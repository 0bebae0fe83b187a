"""The drill's network: a model, and the guard that makes a down region answer nobody.

A region is up or down (`down`), a link from one vantage point to a region can be cut
(`cut`); an endpoint answers `/health` (and `/health?probe=liveness`) 200 while its region
is up, in either database role, as lambda_src/health does: a region can accept trades
before it is the writer, so only the fence keeps DNS off an old primary.

Every AWS call addressed to a down region (by the drill's actors or by the workflow's own
tasks) fails to connect and is recorded in `refused`: what acts during an outage must use
only the regions that are up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from botocore.client import BaseClient
from botocore.exceptions import EndpointConnectionError
from moto.awslambda_simple.models import LambdaSimpleBackend

from trading_dr.local_aws.drill_model import DrillError

if TYPE_CHECKING:
    from trading_dr.local_aws.drill_world import DrillWorld


def endpoint_status(
    domains: Mapping[str, str],
    down: set[str],
    cut: set[tuple[str, str]],
    vantage: str,
    url: str,
) -> int:
    """The HTTP status a GET of `url` from `vantage` gets (0: no answer)."""
    parsed = urlparse(url)
    region = domains.get(parsed.hostname or "")
    if region is None:
        raise DrillError(f"no endpoint {url} in this drill")
    if region in down or vantage in down or (vantage, region) in cut:
        return 0
    return 200


@contextmanager
def down_regions_refuse(world_of: Callable[[], DrillWorld | None]) -> Iterator[None]:
    """A region that is down answers nobody: every AWS call addressed to it, by the
    drill's actors or by the workflow's tasks (moto calls those through boto3 too),
    fails to connect and is recorded."""
    original_call = BaseClient._make_api_call  # type: ignore[attr-defined]

    def guarded(client: BaseClient, operation: str, params: Any) -> Any:
        world = world_of()
        region = client.meta.region_name
        if world is not None and region in world.down:
            name = f"{client.meta.service_model.service_name}.{operation}"
            world.refused.append((world.offset_s, region, name))
            world.note(region, f"refused (region down): {name}")
            raise EndpointConnectionError(endpoint_url=client.meta.endpoint_url)
        return original_call(client, operation, params)

    BaseClient._make_api_call = guarded  # type: ignore[attr-defined]
    try:
        yield
    finally:
        BaseClient._make_api_call = original_call  # type: ignore[attr-defined]


@contextmanager
def validator_invocations(world_of: Callable[[], DrillWorld | None]) -> Iterator[None]:
    """moto runs no Lambda code: the workflow's Invoke of the validator runs its real code
    in-process, on the drill's clock and network (`DrillWorld.validator`)."""
    original_invoke = LambdaSimpleBackend.invoke

    def invoke(
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        world = world_of()
        stack = None if world is None else world.stacks.get(backend.region_name)
        if (
            world is None
            or stack is None
            or function_name
            not in (
                stack.validator_arn,
                stack.validator_arn.rsplit(":", 1)[-1],
            )
        ):
            raise DrillError(f"no function {function_name} in {backend.region_name}")
        return json.dumps(world.validator(stack.region, json.loads(body or "{}"))).encode()

    LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        LambdaSimpleBackend.invoke = original_invoke  # type: ignore[method-assign]
