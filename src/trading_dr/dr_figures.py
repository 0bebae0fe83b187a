"""The figures of the DR budget that AWS decides, not the templates: each with the AWS
document that states it (`dr_budget.py` reads every other figure from the templates)."""

from __future__ import annotations

ALIAS_TTL_S = 60
ALIAS_TTL_SOURCE = (
    "Route 53 Developer Guide, 'Choosing between alias and non-alias records': an alias "
    "record takes the target's TTL, which AWS sets (60 s for AWS service endpoints such as "
    "API Gateway regional domains and ELB); it is not configurable"
)
AURORA_PROMOTION_S = 60
AURORA_PROMOTION_SOURCE = (
    "Amazon Aurora Global Database product page: cross-Region recovery 'RTO of less than "
    "1 minute' (typical, no SLA)"
)
AURORA_RPO_S = 1
AURORA_RPO_SOURCE = (
    "Aurora User Guide, 'Using Amazon Aurora global databases': replication to secondary "
    "Regions with 'typical latency of under a second' (no SLA)"
)
DYNAMODB_RPO_S = 1
DYNAMODB_RPO_SOURCE = (
    "DynamoDB Developer Guide, 'Global tables': changes propagate to other replicas "
    "'typically within one second' (no SLA)"
)
S3_RTC_SOURCE = (
    "S3 User Guide, 'Replication Time Control': 99.99 % of objects replicated within "
    "15 minutes (SLA)"
)
