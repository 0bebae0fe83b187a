"""VPC of one region: 2 public + 2 private subnets over 2 AZs, no NAT.

Private subnets have no route to the internet at all; the Lambdas reach AWS APIs through
gateway endpoints (S3, DynamoDB) and interface endpoints. The public subnets exist for
the internet gateway only; nothing is placed in them and they assign no public IPs.
"""

from __future__ import annotations

from awacs import dynamodb, logs, s3
from awacs.aws import Action, Condition, Everybody, PolicyDocument, Principal, StringEquals
from troposphere import GetAtt, GetAZs, Ref, Select, Sub, Template
from troposphere.ec2 import (
    VPC,
    FlowLog,
    InternetGateway,
    Route,
    RouteTable,
    SecurityGroup,
    SecurityGroupEgress,
    SecurityGroupIngress,
    SecurityGroupRule,
    Subnet,
    SubnetRouteTableAssociation,
    VPCEndpoint,
    VPCGatewayAttachment,
)
from troposphere.iam import Policy, Role

from trading_dr.policies import allow, document, service_trust
from trading_dr.resources.log_groups import add_log_group
from trading_dr.resources.vocabulary.context import StackContext
from trading_dr.resources.vocabulary.refs import KeyRefs, NetworkRefs

# Interface endpoints the private Lambdas call: queue, secrets, parameters, KMS for
# client-side data keys, metrics, and STS for the SDK's regional credential calls.
INTERFACE_ENDPOINTS = ("sqs", "secretsmanager", "ssm", "kms", "monitoring", "sts")
# Security groups must have an egress rule to replace the default allow-all; a rule to
# the loopback address matches no traffic, so these groups allow no egress at all.
NO_EGRESS = [SecurityGroupRule(IpProtocol="-1", CidrIp="127.0.0.1/32", Description="none")]
# Reachable through the gateway endpoints, and only for resources of this account.
S3_ENDPOINT_ACTIONS = (
    s3.GetObject,
    s3.GetObjectVersion,
    s3.PutObject,
    s3.ListBucket,
    s3.GetBucketLocation,
)
DYNAMODB_ENDPOINT_ACTIONS = (
    dynamodb.GetItem,
    dynamodb.BatchGetItem,
    dynamodb.Query,
    dynamodb.PutItem,
    dynamodb.UpdateItem,
    dynamodb.DeleteItem,
    dynamodb.DescribeTable,
)


def _name(ctx: StackContext, *parts: str) -> dict[str, str]:
    return {"Name": ctx.name(*parts, ctx.region)}


def _own_account_only(sid: str, actions: tuple[Action, ...]) -> PolicyDocument:
    return document(
        allow(
            sid,
            actions,
            ["*"],
            Condition(StringEquals("aws:ResourceAccount", Sub("${AWS::AccountId}"))),
            principal=Principal(Everybody),
        )
    )


def add_network(template: Template, ctx: StackContext, keys: KeyRefs) -> NetworkRefs:
    """A VPC over two AZs: public subnets behind an internet gateway, private subnets with
    a route table each, security groups, VPC endpoints and flow logs."""
    settings = ctx.settings
    vpc = template.add_resource(
        VPC(
            "Vpc",
            CidrBlock=settings.vpc_cidr,
            EnableDnsHostnames=True,  # interface endpoints' private DNS needs both
            EnableDnsSupport=True,
            Tags=ctx.tags(**_name(ctx, "vpc")),
        )
    )
    public_rt = _add_public_routing(template, ctx, vpc)
    public, private, private_rts = [], [], []
    for index, (pub_cidr, priv_cidr) in enumerate(
        zip(settings.public_subnets, settings.private_subnets, strict=True)
    ):
        pub, priv, rt = _add_subnet_pair(
            template, ctx, vpc, public_rt, index, (pub_cidr, priv_cidr)
        )
        public.append(Ref(pub))
        private.append(Ref(priv))
        private_rts.append(Ref(rt))

    lambda_sg, db_sg = _add_security_groups(template, ctx, vpc)
    _add_endpoints(template, ctx, vpc, private, private_rts, lambda_sg)
    _add_flow_logs(template, ctx, vpc, keys)
    return NetworkRefs(
        vpc_id=Ref(vpc),
        public_subnet_ids=tuple(public),
        private_subnet_ids=tuple(private),
        lambda_sg_id=GetAtt(lambda_sg, "GroupId"),
        db_sg_id=GetAtt(db_sg, "GroupId"),
        private_route_table_ids=tuple(private_rts),
    )


def _add_public_routing(template: Template, ctx: StackContext, vpc: VPC) -> RouteTable:
    """The internet gateway and the public route table's default route through it."""
    igw = template.add_resource(
        InternetGateway("InternetGateway", Tags=ctx.tags(**_name(ctx, "igw")))
    )
    attachment = template.add_resource(
        VPCGatewayAttachment(
            "InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw)
        )
    )
    public_rt = template.add_resource(
        RouteTable("PublicRouteTable", VpcId=Ref(vpc), Tags=ctx.tags(**_name(ctx, "public")))
    )
    template.add_resource(
        Route(
            "PublicDefaultRoute",
            RouteTableId=Ref(public_rt),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
            DependsOn=attachment,
        )
    )
    return public_rt


def _add_subnet_pair(
    template: Template,
    ctx: StackContext,
    vpc: VPC,
    public_rt: RouteTable,
    index: int,
    cidrs: tuple[str, str],
) -> tuple[Subnet, Subnet, RouteTable]:
    """The public and the private subnet of the index-th AZ, and the private one's routes."""
    pub_cidr, priv_cidr = cidrs
    az = Select(index, GetAZs(""))
    letter = "AB"[index]
    pub = template.add_resource(
        Subnet(
            f"PublicSubnet{letter}",
            VpcId=Ref(vpc),
            CidrBlock=pub_cidr,
            AvailabilityZone=az,
            MapPublicIpOnLaunch=False,
            Tags=ctx.tags(**_name(ctx, "public", letter.lower())),
        )
    )
    template.add_resource(
        SubnetRouteTableAssociation(
            f"PublicSubnet{letter}RouteTable", SubnetId=Ref(pub), RouteTableId=Ref(public_rt)
        )
    )
    priv = template.add_resource(
        Subnet(
            f"PrivateSubnet{letter}",
            VpcId=Ref(vpc),
            CidrBlock=priv_cidr,
            AvailabilityZone=az,
            MapPublicIpOnLaunch=False,
            Tags=ctx.tags(**_name(ctx, "private", letter.lower())),
        )
    )
    # One route table per private subnet keeps AZ failure domains separate.
    rt = template.add_resource(
        RouteTable(
            f"PrivateRouteTable{letter}",
            VpcId=Ref(vpc),
            Tags=ctx.tags(**_name(ctx, "private", letter.lower())),
        )
    )
    template.add_resource(
        SubnetRouteTableAssociation(
            f"PrivateSubnet{letter}RouteTable", SubnetId=Ref(priv), RouteTableId=Ref(rt)
        )
    )
    return pub, priv, rt


def _add_security_groups(
    template: Template, ctx: StackContext, vpc: VPC
) -> tuple[SecurityGroup, SecurityGroup]:
    lambda_sg = template.add_resource(
        SecurityGroup(
            "LambdaSecurityGroup",
            GroupDescription="Lambda functions: HTTPS to AWS endpoints, PostgreSQL to Aurora",
            VpcId=Ref(vpc),
            SecurityGroupEgress=[
                SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    CidrIp="0.0.0.0/0",
                    # Private subnets have no internet route, so this reaches only the
                    # endpoints; the S3/DynamoDB prefix-list ids are not exposed to CFN.
                    Description="HTTPS to VPC endpoints (no internet route exists)",
                )
            ],
            Tags=ctx.tags(**_name(ctx, "lambda")),
        )
    )
    db_sg = template.add_resource(
        SecurityGroup(
            "DbSecurityGroup",
            GroupDescription="Aurora PostgreSQL: 5432 from the Lambda security group only",
            VpcId=Ref(vpc),
            SecurityGroupEgress=NO_EGRESS,
            Tags=ctx.tags(**_name(ctx, "db")),
        )
    )
    # Separate rule resources: the two groups reference each other.
    template.add_resource(
        SecurityGroupIngress(
            "DbIngressFromLambda",
            GroupId=GetAtt(db_sg, "GroupId"),
            IpProtocol="tcp",
            FromPort=5432,
            ToPort=5432,
            SourceSecurityGroupId=GetAtt(lambda_sg, "GroupId"),
            Description="PostgreSQL from the Lambda functions",
        )
    )
    template.add_resource(
        SecurityGroupEgress(
            "LambdaEgressToDb",
            GroupId=GetAtt(lambda_sg, "GroupId"),
            IpProtocol="tcp",
            FromPort=5432,
            ToPort=5432,
            DestinationSecurityGroupId=GetAtt(db_sg, "GroupId"),
            Description="PostgreSQL to Aurora",
        )
    )
    return lambda_sg, db_sg


def _add_endpoints(
    template: Template,
    ctx: StackContext,
    vpc: VPC,
    private_subnets: list[Ref],
    private_rts: list[Ref],
    lambda_sg: SecurityGroup,
) -> None:
    endpoint_sg = template.add_resource(
        SecurityGroup(
            "EndpointSecurityGroup",
            GroupDescription="Interface endpoints: HTTPS from the Lambda security group only",
            VpcId=Ref(vpc),
            SecurityGroupIngress=[
                SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=443,
                    ToPort=443,
                    SourceSecurityGroupId=GetAtt(lambda_sg, "GroupId"),
                    Description="HTTPS from the Lambda functions",
                )
            ],
            SecurityGroupEgress=NO_EGRESS,
            Tags=ctx.tags(**_name(ctx, "endpoints")),
        )
    )
    for service, actions in (("s3", S3_ENDPOINT_ACTIONS), ("dynamodb", DYNAMODB_ENDPOINT_ACTIONS)):
        template.add_resource(
            VPCEndpoint(
                f"{'S3' if service == 's3' else 'DynamoDb'}GatewayEndpoint",
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Gateway",
                RouteTableIds=list(private_rts),
                PolicyDocument=_own_account_only("OwnAccountResourcesOnly", actions),
            )
        )
    for service in INTERFACE_ENDPOINTS:
        template.add_resource(
            VPCEndpoint(
                f"{service.capitalize()}InterfaceEndpoint",
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Interface",
                PrivateDnsEnabled=True,
                SubnetIds=list(private_subnets),
                SecurityGroupIds=[Ref(endpoint_sg)],
            )
        )


def _add_flow_logs(template: Template, ctx: StackContext, vpc: VPC, keys: KeyRefs) -> None:
    group = add_log_group(
        template, ctx, "FlowLogGroup", f"/trading/{ctx.env.suffix}/vpc-flow-logs",
        keys.logs_key_arn,
    )  # fmt: skip
    role = template.add_resource(
        Role(
            "FlowLogRole",
            RoleName=ctx.regional_name("flow-logs"),
            AssumeRolePolicyDocument=service_trust(
                "vpc-flow-logs.amazonaws.com",
                Condition(StringEquals("aws:SourceAccount", Sub("${AWS::AccountId}"))),
            ),
            Policies=[
                Policy(
                    PolicyName="deliver-flow-logs",
                    PolicyDocument=document(
                        allow(
                            "WriteFlowLogGroup",
                            (logs.CreateLogStream, logs.PutLogEvents, logs.DescribeLogStreams),
                            [GetAtt(group, "Arn")],
                        )
                    ),
                )
            ],
            Tags=ctx.tags(),
        )
    )
    template.add_resource(
        FlowLog(
            "VpcFlowLog",
            ResourceId=Ref(vpc),
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref(group),
            DeliverLogsPermissionArn=GetAtt(role, "Arn"),
            MaxAggregationInterval=60,
            Tags=ctx.tags(),
        )
    )
