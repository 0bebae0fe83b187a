"""Network exposure: security group rules, what is reachable from the internet, and which
subnets route to the internet."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from trading_dr.audit.model import (
    Json,
    Section,
    Templates,
    of_type,
    props,
    resources,
    show,
    table,
)
from trading_dr.audit.names import Namer

OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def _ports(rule: Json) -> str:
    protocol = str(rule.get("IpProtocol", "-"))
    if protocol == "-1":
        return "all"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    return f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"


def _peer(rule: Json, name: Callable[[Json], str]) -> str:
    for key in (
        "CidrIp",
        "CidrIpv6",
        "SourceSecurityGroupId",
        "DestinationSecurityGroupId",
        "SourcePrefixListId",
        "DestinationPrefixListId",
    ):
        if key in rule:
            value = name(rule[key])
            return f"{value} (OPEN)" if value in OPEN_CIDRS else value
    return "-"


def _rule_rows(templates: Templates) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    namer = Namer(templates)
    for role, logical, resource in of_type(templates, "AWS::EC2::SecurityGroup"):
        for direction, key in (
            ("ingress", "SecurityGroupIngress"),
            ("egress", "SecurityGroupEgress"),
        ):
            for rule in props(resource).get(key, []):
                rows.append(
                    (
                        role.value,
                        logical,
                        direction,
                        _ports(rule),
                        _peer(rule, partial(namer.name, role)),
                        show(rule.get("Description", "")),
                    )
                )
    standalone = {
        "AWS::EC2::SecurityGroupIngress": "ingress",
        "AWS::EC2::SecurityGroupEgress": "egress",
    }
    for role, logical, resource in of_type(templates, *standalone):
        rule = props(resource)
        rows.append(
            (
                role.value,
                f"{namer.name(role, rule.get('GroupId'))} ({logical})",
                standalone[resource["Type"]],
                _ports(rule),
                _peer(rule, partial(namer.name, role)),
                show(rule.get("Description", "")),
            )
        )
    return rows


def _internet_subnets(templates: Templates) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    namer = Namer(templates)
    for role, template in templates.items():
        found = resources(template)
        internet_tables = {
            show(props(r)["RouteTableId"]).removeprefix("!Ref "): namer.name(
                role, props(r).get("GatewayId", props(r).get("NatGatewayId", "-"))
            )
            for r in found.values()
            if r["Type"] == "AWS::EC2::Route" and props(r).get("DestinationCidrBlock") in OPEN_CIDRS
        }
        for r in found.values():
            if r["Type"] != "AWS::EC2::SubnetRouteTableAssociation":
                continue
            table_id = show(props(r)["RouteTableId"]).removeprefix("!Ref ")
            if table_id in internet_tables:
                subnet = show(props(r)["SubnetId"]).removeprefix("!Ref ")
                public_ip = props(found.get(subnet, {})).get("MapPublicIpOnLaunch", False)
                rows.append(
                    (role.value, subnet, table_id, internet_tables[table_id], str(public_ip))
                )
    return rows


def _public_endpoints(templates: Templates) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    namer = Namer(templates)
    for role, logical, resource in of_type(
        templates,
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::DomainName",
        "AWS::RDS::DBInstance",
        "AWS::RDS::DBCluster",
        "AWS::S3::Bucket",
        "AWS::EC2::VPCEndpoint",
    ):
        p, kind = props(resource), resource["Type"]
        if kind == "AWS::ApiGateway::RestApi":
            types = show(p.get("EndpointConfiguration", {}).get("Types", ["EDGE"]))
            what = f"REST API, {types} endpoint"
            if p.get("DisableExecuteApiEndpoint"):
                what += ", default execute-api endpoint disabled"
            rows.append((role.value, logical, "internet", what))
        elif kind == "AWS::ApiGateway::DomainName":
            policy = show(p.get("SecurityPolicy", "TLS_1_0 (default)"))
            name = show(p.get("RegionalDomainName", p.get("DomainName", "-")))
            rows.append((role.value, logical, "internet", f"custom domain {name}, {policy}"))
        elif kind in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
            public = p.get("PubliclyAccessible", False)
            rows.append(
                (
                    role.value,
                    logical,
                    "INTERNET" if public else "private",
                    f"PubliclyAccessible {public}",
                )
            )
        elif kind == "AWS::S3::Bucket":
            block = p.get("PublicAccessBlockConfiguration", {})
            blocked = len(block) == 4 and all(v is True for v in block.values())
            rows.append(
                (
                    role.value,
                    logical,
                    "private" if blocked else "CHECK",
                    "all four public access blocks on"
                    if blocked
                    else f"public access block {block}",
                )
            )
        else:
            rows.append(
                (
                    role.value,
                    logical,
                    "private",
                    f"{p.get('VpcEndpointType', 'Gateway')} endpoint to "
                    f"{namer.name(role, p.get('ServiceName'))}"
                    + (", policy attached" if "PolicyDocument" in p else ""),
                )
            )
    return rows


def exposure_section(templates: Templates) -> Section:
    rules = _rule_rows(templates)
    open_rules = [r for r in rules if "(OPEN)" in r[4]]
    subnets = _internet_subnets(templates)
    endpoints = _public_endpoints(templates)
    checks = [
        (
            role.value,
            logical,
            show(props(r)["HealthCheckConfig"].get("Type")),
            show(props(r)["HealthCheckConfig"].get("FullyQualifiedDomainName", "-")),
        )
        for role, logical, r in of_type(templates, "AWS::Route53::HealthCheck")
    ]
    return Section(
        "Network exposure",
        (
            f"{len(rules)} security group rules ({len(open_rules)} open to the internet), "
            f"{len(subnets)} subnets with a default route to the internet.",
        ),
        (
            table(
                ("template", "group", "direction", "ports", "peer", "description"),
                rules,
                "security group rules",
            ),
            table(
                ("template", "subnet", "route table", "default route via", "public IPs"),
                subnets,
                "subnets with internet routes",
            ),
            table(
                ("template", "resource", "reachable from", "what"),
                endpoints,
                "endpoints and their exposure",
            ),
            table(
                ("template", "health check", "type", "probes"),
                checks,
                "Route 53 health checks (probe from the internet)",
            ),
        ),
        # Egress to anywhere reaches only what the subnets' routes allow (private subnets:
        # the VPC endpoints); ingress from anywhere is what an attacker sees.
        findings=tuple(
            f"Security group rule open to the internet: {r[0]}/{r[1]} {r[2]} {r[3]}"
            for r in open_rules
            if r[2] == "ingress"
        )
        + tuple(
            f"Publicly reachable: {r[0]}/{r[1]} ({r[3]})"
            for r in endpoints
            if r[2] in ("INTERNET", "CHECK")
        ),
    )
