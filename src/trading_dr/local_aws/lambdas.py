"""Lambda invocations in the local AWS: answered, never executed (moto runs code in docker).

`LocalAws` switches moto to its docker-less Lambda (config `{"lambda": {"use_docker":
false}}`): an Invoke returns the next answer queued for the caller's account and region
(moto's POST /moto-api/static/lambda-simple/response; `LocalAws.queue_lambda_answers`).
`install()` adds to that, the rest staying stock moto:

- an Invoke of a function that exists nowhere is refused (ResourceNotFoundException), as
  AWS does; functions created by CloudFormation count (moto keeps them in another store);
- with nothing queued, the migrate function answers `MIGRATE_ANSWER` (nothing pending),
  so the deployer's migrate step is `unchanged`: migrations are not executed locally;
  other functions get moto's default (the request echoed);
- a queued answer shaped like a handler's exception (`errorMessage` and `errorType`)
  comes back as FunctionError "Unhandled", as AWS reports it;
- an invocation takes `faults.set_lambda_duration(seconds)` of wall time (default 0), and
  one longer than the function's configured Timeout ends at that timeout with AWS's
  timed-out answer (FunctionError "Unhandled", errorType `Sandbox.Timedout`): a synchronous
  Invoke holds the HTTP connection all along, as AWS's does.
"""

from __future__ import annotations

import json
import time
from typing import Any

from moto.awslambda.exceptions import UnknownFunctionException
from moto.awslambda.models import LambdaBackend, LambdaFunction, lambda_backends
from moto.awslambda_simple.models import LambdaSimpleBackend

from trading_dr.local_aws import faults

CONFIG = {"lambda": {"use_docker": False}}
MIGRATE_HANDLER = "migrate_handler.handler"
MIGRATE_ANSWER = {"status": "ok", "pending": [], "applied": []}


def _find(backend: LambdaSimpleBackend, name: str, qualifier: str | None) -> LambdaFunction:
    """The function from CloudFormation's store (stock Lambda backend) or the simple one."""
    try:
        return lambda_backends[backend.account_id][backend.region_name].get_function(
            name, qualifier
        )
    except UnknownFunctionException:
        return LambdaBackend.get_function(backend, name, qualifier)


def _invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes:
    function = _find(self, function_name, qualifier)
    duration, timeout = faults.lambda_duration(), float(function.timeout or 3)
    if duration > 0:
        time.sleep(min(duration, timeout))
    if duration > timeout:
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(
            {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"Task timed out after {timeout:.2f} seconds",
            }
        ).encode()
    if self.lambda_simple_results_queue:
        answer = self.lambda_simple_results_queue.pop(0)
    elif function.handler == MIGRATE_HANDLER:
        answer = json.dumps(MIGRATE_ANSWER)
    else:
        answer = body or "Simple Lambda happy path OK"
    try:
        parsed = json.loads(answer)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and {"errorMessage", "errorType"} <= parsed.keys():
        response_headers["x-amz-function-error"] = "Unhandled"
    return answer.encode() if isinstance(answer, str) else bytes(answer)


def install() -> None:
    """Idempotent; called by `extension.install()`."""
    LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
