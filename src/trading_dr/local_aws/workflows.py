"""Step Functions workflows deployed by CloudFormation run in the local AWS, in their account.

Two gaps in moto 5.2 stand between a deployed template and an execution that does what
AWS's would:

- its CloudFormation model of AWS::StepFunctions::StateMachine creates the machine in the
  backend that does not execute (the API answers from the executing one once
  `execute_state_machine` is on), and ignores `DefinitionSubstitutions`: CloudFormation
  replaces each `${name}` of the definition with its value (AWS CloudFormation Template
  Reference, AWS::StepFunctions::StateMachine, DefinitionSubstitutions), so without this
  the deployed machine would call the placeholders;
- the tasks of an execution (`aws-sdk:*`, Lambda invokes) call moto back through boto3 as
  moto's default account, whatever account the state machine is in. In AWS a task acts
  with the execution role, in the state machine's account: here each task's calls carry
  that account (moto's `x-moto-account-id` header).

With `execute_state_machine` on (`LocalAws` sets it), an execution runs its tasks against
this server (`MOTO_PORT`, set by `LocalAws.start`).
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from collections.abc import Callable
from typing import Any

from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.utils import boto_client
from moto.stepfunctions.utils import cfn_to_api_tags

from trading_dr.local_aws.clients import in_account

_TASKS = "moto.stepfunctions.parser.asl.component.state.exec.state_task"
CONFIG = {"stepfunctions": {"execute_state_machine": True}}
_task_account = threading.local()


def definition_string(properties: dict[str, Any]) -> str:
    """The definition CloudFormation hands Step Functions: `DefinitionString` or
    `Definition` (as JSON), each `${name}` replaced by its substitution."""
    definition = properties.get("Definition")
    text = (
        str(properties.get("DefinitionString", ""))
        if definition is None
        else json.dumps(definition)
    )
    for name, value in (properties.get("DefinitionSubstitutions") or {}).items():
        # The value lands inside a JSON string: escape it as one.
        text = text.replace("${" + str(name) + "}", json.dumps(str(value))[1:-1])
    return text


def _backend(account_id: str, region_name: str) -> Any:
    # The API answers from the executing backend once execute_state_machine is on, so
    # CloudFormation must create the machine there too (moto's model uses the other one).
    return sfn_responses.get_backend(account_id, region_name)


def _create(
    cls: Any,
    /,
    resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    properties = cloudformation_json.get("Properties") or {}
    return _backend(account_id, region_name).create_state_machine(
        name=properties.get("StateMachineName", resource_name),
        definition=definition_string(properties),
        roleArn=properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
    )


def _update(
    cls: Any,
    /,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: Any,
    account_id: str,
    region_name: str,
) -> Any:
    properties = cloudformation_json.get("Properties") or {}
    backend = _backend(account_id, region_name)
    if properties.get("StateMachineName", original_resource.name) != original_resource.name:
        # A new name replaces the machine, as CloudFormation does.
        created = _create(cls, new_resource_name, cloudformation_json, account_id, region_name)
        backend.delete_state_machine(original_resource.arn)
        return created
    return backend.update_state_machine(
        original_resource.arn,
        definition=definition_string(properties),
        role_arn=properties.get("RoleArn"),
    )


def _delete(
    cls: Any, /, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
) -> None:
    _backend(account_id, region_name).delete_state_machine(resource_name)


def _with_account(original: Callable[[Any, Any], Any]) -> Any:
    """The execution's account for the clients its tasks make: a task's body runs in a
    thread of its own (for TimeoutSeconds), so the account is set there."""

    def eval_execution(state: ExecutionState, env: Any) -> Any:
        previous = getattr(_task_account, "value", None)
        _task_account.value = env.aws_execution_details.account
        try:
            return original(state, env)
        finally:
            _task_account.value = previous

    eval_execution.__wrapped__ = original  # type: ignore[attr-defined]
    return eval_execution


def _subclasses(cls: type) -> list[type]:
    found: list[type] = [cls]
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found += _subclasses(sub)
    return found


def _client_for(original: Callable[..., Any]) -> Callable[..., Any]:
    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region, service, state_credentials)
        account = getattr(_task_account, "value", None)
        return in_account(client, account) if account else client

    client_for.__wrapped__ = original  # type: ignore[attr-defined]
    return client_for


def install() -> None:
    """Idempotent; called by `extension.install()`."""
    if getattr(StateMachine, "_trading_dr_definitions", False):
        return
    StateMachine.create_from_cloudformation_json = classmethod(_create)  # type: ignore[method-assign,assignment]
    StateMachine.update_from_cloudformation_json = classmethod(_update)  # type: ignore[method-assign,assignment]
    StateMachine.delete_from_cloudformation_json = classmethod(_delete)  # type: ignore[method-assign,assignment]
    StateMachine._trading_dr_definitions = True  # type: ignore[attr-defined]
    # Import every parser module that makes clients, so that each reference is replaced.
    importlib.import_module(f"{_TASKS}.lambda_eval_utils")
    importlib.import_module(f"{_TASKS}.service.state_task_service_factory")
    importlib.import_module(f"{_TASKS}.state_task_factory")
    for cls in _subclasses(ExecutionState):
        if "_eval_execution" in cls.__dict__:
            cls._eval_execution = _with_account(cls.__dict__["_eval_execution"])  # type: ignore[attr-defined]
    original = boto_client.boto_client_for
    replacement = _client_for(original)
    # Every parser module imported the function by name: replace each reference.
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and (
            getattr(module, "boto_client_for", None) is original
        ):
            module.boto_client_for = replacement  # type: ignore[attr-defined]
