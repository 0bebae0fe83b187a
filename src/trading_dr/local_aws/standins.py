"""CloudFormation models for the resource types moto's parser skips.

moto's CloudFormation warns and skips types it has no model for, and a GetAtt on a
skipped resource in Outputs crashes the whole stack. The platform's templates use
several of them (measured on moto 5.2: RDS::GlobalCluster, RDS::DBCluster,
DynamoDB::GlobalTable, S3::BucketPolicy, SecretsManager::Secret, SNS::Subscription,
ApiGateway::Stage, ApiGateway::DomainName, CloudWatch::Alarm, CloudTrail::Trail).

A stand-in records its properties, answers Ref with the physical id AWS would return
and GetAtt with the attributes AWS documents for the type (an unknown attribute is a
template error, as in AWS). Types nobody listed yet get a generic stand-in so that new
resources added to the templates deploy locally too; `standin_types_seen()` tells which.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.core.common_models import CloudFormationModel

Attr = Callable[["StandIn"], str]


def _arn(service: str, resource: str) -> Callable[[StandIn], str]:
    def build(item: StandIn) -> str:
        return f"arn:aws:{service}:{item.region}:{item.account}:{resource.format(n=item.name)}"

    return build


def _token(item: StandIn, length: int = 12) -> str:
    """A stable pseudo-random token, like the ones AWS puts in endpoints and ids."""
    seed = f"{item.account}/{item.region}/{item.name}".encode()
    return hashlib.sha256(seed).hexdigest()[:length]


@dataclass(frozen=True)
class Spec:
    """How AWS names one resource type: name property, Ref value and GetAtt attributes."""

    name_property: str | None
    ref: str  # "name" or an attribute key
    attributes: dict[str, Attr] = field(default_factory=dict)


def _db_endpoint(kind: str) -> Attr:
    return lambda i: f"{i.name}.{kind}-{_token(i)}.{i.region}.rds.amazonaws.com"


SPECS: dict[str, Spec] = {
    "AWS::RDS::GlobalCluster": Spec("GlobalClusterIdentifier", "name"),
    "AWS::RDS::DBCluster": Spec(
        "DBClusterIdentifier",
        "name",
        {
            "DBClusterArn": _arn("rds", "cluster:{n}"),
            "DBClusterResourceId": lambda i: f"cluster-{_token(i, 26).upper()}",
            "Endpoint.Address": _db_endpoint("cluster"),
            "Endpoint.Port": lambda i: "5432",
            "ReadEndpoint.Address": _db_endpoint("cluster-ro"),
            "MasterUserSecret.SecretArn": _arn("secretsmanager", "secret:rds!cluster-" + "{n}"),
        },
    ),
    "AWS::RDS::DBInstance": Spec(
        "DBInstanceIdentifier",
        "name",
        {
            "DBInstanceArn": _arn("rds", "db:{n}"),
            "Endpoint.Address": _db_endpoint("instance"),
            "Endpoint.Port": lambda i: "5432",
        },
    ),
    "AWS::DynamoDB::GlobalTable": Spec(
        "TableName",
        "name",
        {
            "Arn": _arn("dynamodb", "table/{n}"),
            "StreamArn": _arn("dynamodb", "table/{n}/stream/2024-01-01T00:00:00.000"),
            "TableId": lambda i: _token(i, 32),
        },
    ),
    "AWS::S3::BucketPolicy": Spec(None, "name"),
    "AWS::SecretsManager::Secret": Spec("Name", "Id", {"Id": _arn("secretsmanager", "secret:{n}")}),
    "AWS::SNS::Subscription": Spec(None, "Arn", {"Arn": _arn("sns", "{n}")}),
    "AWS::ApiGateway::Stage": Spec("StageName", "name"),
    "AWS::ApiGateway::DomainName": Spec(
        "DomainName",
        "name",
        {
            "DistributionDomainName": lambda i: f"d{_token(i)}.cloudfront.net",
            "DistributionHostedZoneId": lambda i: "Z2FDTNDATAQYW2",
            "RegionalDomainName": lambda i: (
                f"d-{_token(i, 10)}.execute-api.{i.region}.amazonaws.com"
            ),
            "RegionalHostedZoneId": lambda i: "Z1UJRXOUMOOFQ8",
        },
    ),
    "AWS::CloudWatch::Alarm": Spec("AlarmName", "name", {"Arn": _arn("cloudwatch", "alarm:{n}")}),
    "AWS::CloudWatch::CompositeAlarm": Spec(
        "AlarmName", "name", {"Arn": _arn("cloudwatch", "alarm:{n}")}
    ),
    "AWS::CloudTrail::Trail": Spec(
        "TrailName",
        "name",
        {
            "Arn": _arn("cloudtrail", "trail/{n}"),
            "SnsTopicArn": _arn("sns", "{n}-trail"),
        },
    ),
}


@dataclass(frozen=True)
class Mirror:
    """A real moto object kept beside a stand-in, for types the platform's own code calls
    at runtime (the failover workflow and validator call RDS and DynamoDB): created with
    the stand-in (idempotent, an update keeps it), deleted with it, and answering the
    GetAtt attributes it knows (`attribute` returns None for the others)."""

    create: Callable[[StandIn], None]
    delete: Callable[[StandIn], None]
    attribute: Callable[[StandIn, str], str | None]


MIRRORS: dict[str, Mirror] = {}

# Types moto models, but not in a way the templates can use: its RDS DBInstance needs a
# DBCluster in moto's RDS backend, which the (stand-in) cluster is not.
REPLACED = frozenset({"AWS::RDS::DBInstance"})

_seen: set[str] = set()


class StandIn(CloudFormationModel):
    """One resource of a type moto's CloudFormation does not model."""

    resource_type = "AWS::Unknown::Unknown"
    spec: Spec | None = None  # None: a generic stand-in, every attribute is answered

    name: str
    account: str
    region: str

    def __init__(self, name: str, account: str, region: str, properties: dict[str, Any]):
        self.name = name
        self.account = account
        self.region = region
        self.properties = properties

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return cls.spec is None or attr in cls.spec.attributes

    @property
    def physical_resource_id(self) -> str:
        if self.spec is None or self.spec.ref == "name":
            return self.name
        return self.get_cfn_attribute(self.spec.ref)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        mirror = MIRRORS.get(self.resource_type)
        mirrored = mirror.attribute(self, attribute_name) if mirror else None
        if mirrored is not None:
            return mirrored
        if self.spec is None:
            if attribute_name.endswith("Arn"):
                service = self.resource_type.split("::")[1].lower()
                return _arn(service, "{n}")(self)
            return f"{self.name}-{attribute_name}"
        build = self.spec.attributes.get(attribute_name)
        if build is None:
            raise UnformattedGetAttTemplateException()
        return build(self)

    @classmethod
    def _name(cls, generated: str, properties: dict[str, Any]) -> str:
        prop = cls.spec.name_property if cls.spec else None
        value = properties.get(prop) if prop else None
        return str(value) if value else generated

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> StandIn:
        properties = dict(cloudformation_json.get("Properties") or {})
        return cls._mirrored(
            cls(cls._name(resource_name, properties), account_id, region_name, properties)
        )

    @classmethod
    def _mirrored(cls, item: StandIn) -> StandIn:
        mirror = MIRRORS.get(cls.resource_type)
        if mirror is not None:
            mirror.create(item)
        return item

    def delete(self, account_id: str, region_name: str) -> None:
        """moto's stack deletion calls this; only a mirrored object has anything to delete."""
        mirror = MIRRORS.get(self.resource_type)
        if mirror is not None:
            mirror.delete(self)

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: StandIn,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> StandIn:
        properties = dict(cloudformation_json.get("Properties") or {})
        # Without a name property, AWS keeps the physical id across an update.
        name = cls._name(original_resource.name, properties)
        return cls._mirrored(cls(name, account_id, region_name, properties))

    @classmethod
    def delete_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        return None

    def is_created(self) -> bool:
        return True


_classes: dict[str, type[StandIn]] = {}


def standin_class(resource_type: str) -> type[StandIn]:
    """The stand-in model of `resource_type` (created on first use, then cached)."""
    cls = _classes.get(resource_type)
    if cls is None:
        short = resource_type.replace("::", "")
        cls = type(
            f"StandIn{short}",
            (StandIn,),
            {
                "resource_type": resource_type,
                "spec": SPECS.get(resource_type),
                "cloudformation_type": staticmethod(lambda: resource_type),
            },
        )
        _classes[resource_type] = cls
    _seen.add(resource_type)
    return cls


def standin_types_seen() -> frozenset[str]:
    return frozenset(_seen)
