"""Deterministic YAML for CloudFormation.

troposphere's own `to_yaml` goes through cfn-flip, which is slow and rewrites intrinsic
functions; we dump `to_dict()` with PyYAML instead: long-form intrinsics (`Fn::GetAtt`,
`Ref`), insertion order kept (builders are deterministic), no anchors, no line folding.
"""

from __future__ import annotations

from typing import Any

from troposphere import Template
from yaml import ScalarNode
from yaml.resolver import Resolver

# PyYAML's own implicit resolver (the loader's): a string it would read as anything but a
# string (true, null, 1e3, 2024-01-01, ...) must be quoted to round-trip.
_RESOLVER = Resolver()
_STR_TAG = "tag:yaml.org,2002:str"
# Characters that may not start a plain scalar (YAML indicators) or that make one ambiguous.
_UNSAFE_FIRST = frozenset("-?:,[]{}#&*!|>'\"%@` \t")


# Reading order for reviewers: what the template is, what it takes, what it builds.
TOP_LEVEL_ORDER = (
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Mappings",
    "Conditions",
    "Resources",
    "Outputs",
)
RESOURCE_ORDER = (
    "Type",
    "Condition",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "Metadata",
    "Properties",
)


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    known = {key: mapping[key] for key in order if key in mapping}
    return known | {key: value for key, value in mapping.items() if key not in known}


def template_dict(template: Template) -> dict[str, Any]:
    """The template as plain data, with top-level and resource keys in reading order."""
    data = _ordered(template.to_dict(), TOP_LEVEL_ORDER)
    data["Resources"] = {
        name: _ordered(resource, RESOURCE_ORDER) for name, resource in data["Resources"].items()
    }
    return data


def to_yaml(template: Template) -> str:
    return dump(template_dict(template))


def _plain_ok(value: str) -> bool:
    return (
        value != ""
        and value[0] not in _UNSAFE_FIRST
        and value[-1] not in " :"
        and value.isprintable()
        and ": " not in value
        and " #" not in value
        and _RESOLVER.resolve(ScalarNode, value, (True, False)) == _STR_TAG  # type: ignore[no-untyped-call]
    )


def _double_quoted(value: str) -> str:
    """YAML's double-quoted style, escaping all but printable ASCII: exact for any text."""
    out = []
    for char in value:
        code = ord(char)
        if char in '\\"':
            out.append("\\" + char)
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        if _plain_ok(value):
            return value
        if value.isprintable():
            return "'" + value.replace("'", "''") + "'"
        return _double_quoted(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    raise TypeError(f"cannot render {type(value).__name__} {value!r} as YAML")


def _literal(value: str, indent: str) -> str | None:
    """A multi-line string as a literal block, or None when a block cannot hold it exactly."""
    lines = value.split("\n")
    body = lines[:-1] if value.endswith("\n") else lines
    if value.endswith("\n\n") or not body[0] or body[0][0] == " ":
        return None
    if any(line != line.rstrip() or not line.isprintable() for line in body):
        return None
    chomp = "" if value.endswith("\n") else "-"
    return f"|{chomp}\n" + "\n".join(f"{indent}{line}" if line else "" for line in body)


def _emit(node: Any, indent: str, out: list[str]) -> None:
    """Append `node` in block style; the caller has written the key or dash before it."""
    if isinstance(node, dict) and node:
        for key, value in node.items():
            out.append(f"\n{indent}{_scalar(key)}:")
            _emit_value(value, indent, out, in_list=False)
    elif isinstance(node, list) and node:
        for item in node:
            out.append(f"\n{indent}-")
            _emit_value(item, indent, out, in_list=True)
    else:
        raise AssertionError("empty or scalar nodes are emitted by _emit_value")


def _emit_value(value: Any, indent: str, out: list[str], in_list: bool) -> None:
    if isinstance(value, dict) and value:
        if in_list:  # "- Key: v" then the other keys aligned under the first
            first = len(out)
            _emit(value, indent + "  ", out)
            out[first] = " " + out[first].lstrip("\n").lstrip()
        else:
            _emit(value, indent + "  ", out)
    elif isinstance(value, list) and value:
        if in_list:
            first = len(out)
            _emit(value, indent + "  ", out)
            out[first] = " " + out[first].lstrip("\n").lstrip()
        else:  # sequences under a key are not indented (PyYAML's style, kept for diffs)
            _emit(value, indent, out)
    elif isinstance(value, dict):
        out.append(" {}")
    elif isinstance(value, list):
        out.append(" []")
    elif isinstance(value, str) and "\n" in value:
        block = _literal(value, indent + "  ")
        out.append(" " + (block if block is not None else _scalar(value)))
    else:
        out.append(" " + _scalar(value))


def dump(data: dict[str, Any]) -> str:
    """Block-style YAML of plain data: deterministic, and a fraction of PyYAML's time.

    PyYAML's representer walks every node through generic Python machinery; templates
    hold only dicts, lists, strings, numbers, booleans and None, which this emits directly.
    tests/trading_dr/test_render.py proves the output loads back to the same data.
    """
    out: list[str] = []
    _emit(data, "", out)
    return "".join(out).lstrip("\n") + "\n"
