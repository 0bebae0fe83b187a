"""Lambda invocations in the local AWS: answered, not executed (moto runs code in docker).

`LocalAws` switches moto to its docker-less Lambda (config `{"lambda": {"use_docker":
false}}`): an Invoke returns the next answer queued for the caller's account and region
(moto's POST /moto-api/static/lambda-simple/response; `LocalAws.queue_lambda_answers`).
`install()` adds to that, the rest staying stock moto:

- an Invoke of a function that exists nowhere is refused (ResourceNotFoundException), as
  AWS does; functions created by CloudFormation count (moto keeps them in another store);
- with nothing queued, the migrate function answers `MIGRATE_ANSWER` (nothing pending),
  so the deployer's migrate step is `unchanged`: migrations are not executed locally;
  the validator and the observer run their real code (`validator_runtime`,
  `observer_runtime`): the failover path decides on what they report; other functions get
  moto's default (the request echoed);
- a queued answer shaped like a handler's exception (`errorMessage` and `errorType`)
  comes back as FunctionError "Unhandled", as AWS reports it;
- an invocation takes `faults.set_lambda_duration(seconds)` of wall time (default 0), and
  one longer than the function's configured Timeout ends at that timeout with AWS's
  timed-out answer (FunctionError "Unhandled", errorType `Sandbox.Timedout`): a synchronous
  Invoke holds the HTTP connection all along, as AWS's does;
- `GetAccountSettings` (moto has none) reports the account's regional concurrency limit
  (`faults.set_lambda_concurrency_limit`, default AWS's 1,000) and what is left unreserved,
  and a function reserving concurrency that would leave fewer than 100 unreserved is
  refused with AWS's message, whether through PutFunctionConcurrency or CloudFormation;
- every function operation finds functions created by CloudFormation too (one store per
  region, as in AWS).
"""

from __future__ import annotations

import json
import time
from typing import Any

from moto.awslambda.exceptions import InvalidParameterValueException, UnknownFunctionException
from moto.awslambda.models import LambdaBackend, LambdaFunction, lambda_backends
from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend, lambda_simple_backends

from trading_dr.local_aws import faults

CONFIG = {"lambda": {"use_docker": False}}
MIGRATE_HANDLER = "migrate_handler.handler"
MIGRATE_ANSWER = {"status": "ok", "pending": [], "applied": []}
MINIMUM_UNRESERVED = 100
ACCOUNT_SETTINGS_PATH = r"{0}/(?P<api_version>[^/]+)/account-settings/?$"


def _find(backend: LambdaSimpleBackend, name: str, qualifier: str | None = None) -> LambdaFunction:
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
        # Their real code: heavy imports, so only here.
        from trading_dr.local_aws import observer_runtime, validator_runtime

        ran = validator_runtime.answer(self.account_id, self.region_name, function, body)
        if ran is None:
            ran = observer_runtime.answer(self.account_id, self.region_name, function, body)
        answer = ran if ran is not None else body or "Simple Lambda happy path OK"
    try:
        parsed = json.loads(answer)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and {"errorMessage", "errorType"} <= parsed.keys():
        response_headers["x-amz-function-error"] = "Unhandled"
    return answer.encode() if isinstance(answer, str) else bytes(answer)


def _functions(account: str, region: str) -> list[LambdaFunction]:
    """Every function of the account and region, from both of moto's stores."""
    found: dict[str, LambdaFunction] = {}
    for backends in (lambda_backends, lambda_simple_backends):
        for function in backends[account][region].list_functions():
            found.setdefault(function.function_arn, function)
    return list(found.values())


def _reserved(account: str, region: str, other_than: str | None = None) -> int:
    return sum(
        int(f.reserved_concurrency or 0)
        for f in _functions(account, region)
        if f.function_name != other_than
    )


def check_reservation(account: str, region: str, name: str, reserved: int) -> None:
    """Refuse, as AWS does, a reservation leaving fewer than 100 executions unreserved."""
    limit = faults.lambda_concurrency_limit()
    if limit - _reserved(account, region, other_than=name) - int(reserved) < MINIMUM_UNRESERVED:
        raise InvalidParameterValueException(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{MINIMUM_UNRESERVED}]."
        )


def get_account_settings(self: LambdaResponse) -> Any:
    account, region = self.current_account, self.region
    limit = faults.lambda_concurrency_limit()
    functions = _functions(account, region)
    return (
        200,
        {},
        json.dumps(
            {
                "AccountLimit": {
                    "TotalCodeSize": 80530636800,
                    "CodeSizeUnzipped": 262144000,
                    "CodeSizeZipped": 52428800,
                    "ConcurrentExecutions": limit,
                    "UnreservedConcurrentExecutions": limit - _reserved(account, region),
                },
                "AccountUsage": {
                    "TotalCodeSize": sum(int(f.code_size or 0) for f in functions),
                    "FunctionCount": len(functions),
                },
            }
        ),
    )


def _put_function_concurrency(
    self: LambdaBackend, function_name: str, reserved_concurrency: str
) -> str:
    function = self.get_function(function_name)
    check_reservation(
        self.account_id, self.region_name, function.function_name, int(reserved_concurrency)
    )
    function.reserved_concurrency = reserved_concurrency
    return function.reserved_concurrency


def _create_from_cloudformation(original: Any) -> Any:
    def create(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json.get("Properties") or {}
        reserved = properties.get("ReservedConcurrentExecutions")
        if reserved is not None:
            name = str(properties.get("FunctionName") or resource_name)
            check_reservation(account_id, region_name, name, int(reserved))
        return original.__func__(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )

    return classmethod(create)


def install() -> None:
    """Idempotent; called by `extension.install()`."""
    from moto.awslambda import urls

    LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
    LambdaSimpleBackend.get_function = _find  # type: ignore[method-assign,assignment]
    LambdaBackend.put_function_concurrency = _put_function_concurrency  # type: ignore[method-assign]
    LambdaResponse.get_account_settings = get_account_settings  # type: ignore[attr-defined]
    urls.url_paths.setdefault(ACCOUNT_SETTINGS_PATH, LambdaResponse.dispatch)
    if not getattr(LambdaFunction, "_trading_dr_checked", False):
        LambdaFunction.create_from_cloudformation_json = _create_from_cloudformation(  # type: ignore[method-assign]
            LambdaFunction.create_from_cloudformation_json
        )
        LambdaFunction._trading_dr_checked = True  # type: ignore[attr-defined]
