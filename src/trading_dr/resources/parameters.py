"""SSM parameters the platform reads at run time: /trading/<suffix>/<role>/<leaf>."""

from __future__ import annotations

from troposphere import Template
from troposphere.ssm import Parameter

from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import AWSHelperFn


def add_string_parameter(
    template: Template, ctx: StackContext, logical_id: str, leaf: str, value: AWSHelperFn | str,
    description: str,
) -> Parameter:  # fmt: skip
    return template.add_resource(
        Parameter(
            logical_id,
            Name=ctx.ssm_path(leaf),
            Type="String",
            Tier="Standard",
            Value=value,
            Description=description,
            Tags=ctx.tag_map(),
        )
    )
