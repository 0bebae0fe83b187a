"""Template values named by what they are, for the report: no `!Sub ${Arn}/*` left to decode.

A reviewer of an IAM table wants to know *which* bucket, subnet or cluster a statement
names, not how CloudFormation will assemble its ARN. `Namer.name(role, value)` reads a value
of `role`'s template and answers with:

- a logical id for a whole reference (`!Ref TradeQueue`, `!GetAtt AuditBucket.Arn` →
  `AuditBucket`), prefixed with its template when it lives in another one
  (`global/GlobalCluster`);
- the resource a stage parameter carries, followed through the output that feeds it
  (`PeerAuditBucketArn` → the other region's `AuditBucket`), since the deployer fills
  `Peer<X>` with the peer's output `<X>` and global parameters with the global outputs;
- a physical name pattern for a `Fn::Sub` string: pseudo parameters become what they are
  at deploy time (`<account>`, the template's region and partition), variables the name
  of what they refer to, in angle brackets where they stand for an id only known once
  deployed (`subnet/<PrivateSubnetA>`).

Conditions and principals (nested dicts) read as `key operator value` rather than JSON.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trading_dr.audit.model import Json, Templates, region_of, resources
from trading_dr.config import Role

ACCOUNT = "<account>"
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
# Attributes that are the resource's ARN or id: the logical id alone names the resource.
_IDENTITY_ATTRIBUTES = ("Arn", "Id", "Name")


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _url_suffix(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


@dataclass(frozen=True)
class Named:
    text: str
    # True when `text` names a resource (or its ARN) rather than spelling out a string:
    # inside a pattern such a name is shown as <name>.
    reference: bool


class Namer:
    """Names values of any of `templates`, resolving stage parameters across them."""

    def __init__(self, templates: Templates) -> None:
        self.templates = templates

    def name(self, role: Role, value: Json) -> str:
        return self._named(role, value).text

    def names(self, role: Role, values: list[Json]) -> str:
        return ", ".join(self.name(role, v) for v in values)

    def _named(self, role: Role, value: Json) -> Named:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            intrinsic = {
                "Ref": lambda: self._ref(role, str(arg)),
                "Fn::GetAtt": lambda: self._getatt(role, arg),
                "Fn::Sub": lambda: Named(self._sub(role, arg), False),
                "Fn::If": lambda: Named(self._if(role, arg), False),
                "Fn::Join": lambda: Named(
                    arg[0].join(self.name(role, part) for part in arg[1]), False
                ),
            }.get(key)
            if intrinsic is not None:
                return intrinsic()
        if isinstance(value, dict):
            text = self._mapping(role, value)
        elif isinstance(value, list):
            text = ", ".join(self.name(role, v) for v in value)
        elif isinstance(value, bool):
            text = str(value).lower()
        else:
            text = str(value)
        return Named(text, False)

    def _if(self, role: Role, arg: Json) -> str:
        condition, when_true, when_false = arg
        return (
            f"{self.name(role, when_true)} if {condition} holds, else {self.name(role, when_false)}"
        )

    def _mapping(self, role: Role, value: dict[str, Json]) -> str:
        """A condition block or principal: `aws:SourceAccount StringEquals <account>`."""
        parts = []
        for key, inner in value.items():
            if isinstance(inner, dict) and all(not k.startswith("Fn::") for k in inner):
                # Condition operator -> {condition key: value}.
                for condition_key, operand in inner.items():
                    parts.append(f"{condition_key} {key} {self.name(role, operand)}")
            else:
                parts.append(f"{key}: {self.name(role, inner)}")
        return "; ".join(parts)

    def _pseudo(self, role: Role, name: str) -> str | None:
        region = region_of(self.templates[role])
        return {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": region or "<region>",
            "AWS::Partition": partition(region),
            "AWS::URLSuffix": _url_suffix(region),
            "AWS::StackName": "<stack name>",
            "AWS::StackId": "<stack id>",
            "AWS::NoValue": "",
        }.get(name)

    def _qualified(self, owner: Role, role: Role, logical: str) -> str:
        return logical if owner is role else f"{owner.value}/{logical}"

    def _ref(self, role: Role, name: str, reader: Role | None = None) -> Named:
        reader = reader or role
        pseudo = self._pseudo(role, name)
        if pseudo is not None:
            return Named(pseudo, False)
        template = self.templates[role]
        if name in resources(template):
            return Named(self._qualified(role, reader, name), True)
        if name in template.get("Parameters", {}):
            return self._parameter(role, name, reader)
        return Named(name, True)

    def _getatt(self, role: Role, arg: Json, reader: Role | None = None) -> Named:
        logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
        name = self._qualified(role, reader or role, logical)
        if str(attribute).endswith(_IDENTITY_ATTRIBUTES):
            return Named(name, True)
        return Named(f"{name}.{attribute}", True)

    def _parameter(self, role: Role, name: str, reader: Role) -> Named:
        """What the deployer passes: the peer's output `<X>` for `Peer<X>`, else the global
        output of that name; followed to the resource it names when it names one."""
        candidates: list[tuple[Role, str]] = []
        if name.startswith("Peer"):
            peers = [r for r in self.templates if r not in (role, Role.GLOBAL)]
            candidates = [(peer, name.removeprefix("Peer")) for peer in peers]
        elif role is not Role.GLOBAL and Role.GLOBAL in self.templates:
            candidates = [(Role.GLOBAL, name)]
        for source, output_name in candidates:
            output = self.templates[source].get("Outputs", {}).get(output_name)
            if output is not None:
                return self._output_value(source, output["Value"], reader)
        return Named(f"parameter {name}", True)

    def _output_value(self, source: Role, value: Json, reader: Role) -> Named:
        if isinstance(value, dict) and "Ref" in value:
            return self._ref(source, str(value["Ref"]), reader)
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return self._getatt(source, value["Fn::GetAtt"], reader)
        return Named(self.name(source, value), False)

    def _sub(self, role: Role, arg: Json) -> str:
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})

        def replace(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable.startswith("!"):  # ${!Literal} is a literal ${Literal}
                return "${" + variable[1:] + "}"
            if variable in variables:
                named = self._named(role, variables[variable])
            elif "." in variable:
                named = self._getatt(role, variable)
            else:
                named = self._ref(role, variable)
            # A reference at the start of the string is the ARN the pattern extends
            # (`${Arn}/*` → `AuditBucket/*`); elsewhere it is an id inside an ARN.
            if not named.reference or match.start() == 0:
                return named.text
            return f"<{named.text}>"

        return _VARIABLE.sub(replace, str(text))
