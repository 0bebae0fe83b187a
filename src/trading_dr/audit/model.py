"""What a report section is (title, prose, tables) and how template values read as text.

Sections are data, so the Markdown and the HTML page are two renderings of the same
content and cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trading_dr.config import Role

Json = Any
Templates = Mapping[Role, Json]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.headers):
                raise ValueError(f"row {row} does not match headers {self.headers}")


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = field(default=())  # bullet list after the tables
    # What an auditor must act on, one sentence each: the report's summary lists the open
    # findings of every section, so a new section reports its own here.
    findings: tuple[str, ...] = field(default=())


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], caption: str = "") -> Table:
    return Table(tuple(headers), tuple(tuple(str(c) for c in row) for row in rows), caption)


def resources(template: Json) -> dict[str, Json]:
    found: dict[str, Json] = template.get("Resources", {})
    return found


def of_type(templates: Templates, *types: str) -> Iterator[tuple[Role, str, Json]]:
    """(role, logical id, resource) of every resource of the given types, in template order."""
    for role, template in templates.items():
        for logical, resource in resources(template).items():
            if resource["Type"] in types:
                yield role, logical, resource


def region_of(template: Json) -> str:
    """The region a template is deployed to, as its Description states it: `... (us-east-1)`."""
    description = str(template.get("Description", ""))
    return description.split("(", 1)[1].split(")", 1)[0] if "(" in description else ""


def props(resource: Json) -> Json:
    return resource.get("Properties", {})


def _getatt(arg: Json) -> str:
    return ".".join(arg) if isinstance(arg, list) else str(arg)


def _sub(arg: Json) -> str:
    return str(arg[0] if isinstance(arg, list) else arg)


# Short forms of intrinsic functions, as in YAML's !Tag syntax.
_INTRINSICS: dict[str, Callable[[Json], str]] = {
    "Ref": lambda arg: f"!Ref {arg}",
    "Fn::GetAtt": lambda arg: f"!GetAtt {_getatt(arg)}",
    "Fn::Sub": lambda arg: f"!Sub {_sub(arg)}",
    "Fn::If": lambda arg: f"!If {arg[0]} ? {show(arg[1])} : {show(arg[2])}",
    "Fn::Join": lambda arg: f"!Join '{arg[0]}' [{', '.join(show(v) for v in arg[1])}]",
    "Fn::ImportValue": lambda arg: f"!ImportValue {show(arg)}",
}


def show(value: Json) -> str:
    """A template value as a reviewer reads it: intrinsics in short form, no JSON noise."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key in _INTRINSICS:
            return _INTRINSICS[key](arg)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(show(v) for v in value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def as_list(value: Json) -> list[Json]:
    return value if isinstance(value, list) else [value]


def alternatives(value: Json) -> list[Json]:
    """What a value may be once conditions are decided: both sides of every Fn::If, without
    AWS::NoValue; an auditor needs every grant the template can make."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, when_true, when_false = value["Fn::If"]
        return alternatives(when_true) + alternatives(when_false)
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def items(value: Json) -> list[Json]:
    """The elements of a list-valued property, through any Fn::If around it or its items."""
    return [
        item
        for branch in alternatives(value)
        for element in as_list(branch)
        for item in alternatives(element)
    ]


def walk(node: Json) -> Iterator[Json]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def referenced(node: Json) -> set[str]:
    """Logical ids a value refers to through Ref / GetAtt / ${Name} in Sub."""
    names: set[str] = set()
    for item in walk(node):
        if not isinstance(item, dict) or len(item) != 1:
            continue
        ((key, arg),) = item.items()
        if key == "Ref" and isinstance(arg, str):
            names.add(arg)
        elif key == "Fn::GetAtt":
            names.add(arg[0] if isinstance(arg, list) else str(arg).split(".")[0])
        elif key == "Fn::Sub":
            text = arg[0] if isinstance(arg, list) else arg
            names.update(part.split("}")[0].split(".")[0] for part in text.split("${")[1:])
    return names
