"""Every scanner suppression of the platform, in one table, each with its written reason.

A finding is fixed in the builder that causes it whenever it can be; what stays here is a
check that does not fit the design, with the reason an auditor can verify. Entries that
hide a real gap say so with "FINDING:" and are listed for a builder fix in the audit pack.

`apply_suppressions` writes the entries into each matching resource's Metadata, where
checkov reads them (`checkov: skip: [{id, comment}]`); the audit pack reads them back from
the rendered templates, so the report shows exactly what the scanners were told.
"""

from __future__ import annotations

from typing import Any

from troposphere import Template

# (logical id or resource type, checkov check id) -> reason.
SUPPRESSIONS: dict[tuple[str, str], str] = {
    # CKV_AWS_116: a function DLQ only catches events of *asynchronous* invocations.
    ("IntakeFunction", "CKV_AWS_116"): "invoked synchronously by API Gateway (AWS_PROXY): an "
    "error returns to the caller as a 5xx and is retried by the client; a function DLQ only "
    "applies to asynchronous invocations",
    ("HealthFunction", "CKV_AWS_116"): "invoked synchronously by API Gateway for Route 53's "
    "health checkers; a failed call is the health signal itself, nothing to replay",
    ("ProcessorFunction", "CKV_AWS_116"): "invoked by an SQS event source mapping: failed "
    "messages go to the trade queue's redrive DLQ (TradeDeadLetterQueue, alarmed); a function "
    "DLQ only applies to asynchronous invocations",
    ("MigrateFunction", "CKV_AWS_116"): "invoked synchronously (RequestResponse) by the "
    "deployer once per rollout; a failure stops the rollout with its error",
    ("ValidatorFunction", "CKV_AWS_116"): "scheduled readiness probe (EventBridge): every run "
    "re-checks from scratch and the next one follows within a minute, so a failed event holds "
    "nothing worth replaying; its error rate is alarmed (ValidatorErrorRateAlarm)",
    ("ShipperFunction", "CKV_AWS_116"): "scheduled every minute (EventBridge) over a durable "
    "queue of its own: what a failed run did not ship stays in the database outbox for the "
    "next run, so a failed event holds nothing to replay; its error rate and the outbox age "
    "are alarmed (ShipperErrorRateAlarm, AuditOutboxAgeAlarm)",
    ("ReconcilerFunction", "CKV_AWS_116"): "scheduled every minute (EventBridge) over the "
    "journal: an entry a failed run did not replay stays pending in the journal for the next "
    "pass, so a failed event holds nothing to replay; its error rate and the age of "
    "unreconciled trades are alarmed (ReconcilerErrorRateAlarm, JournalRpoAlarm)",
    ("ObserverFunction", "CKV_AWS_116"): "scheduled every minute (EventBridge): each run "
    "samples both regions afresh, so a failed event holds nothing worth replaying; missing "
    "observer data stops automatic failover and one vantage point pages a human",
    # CKV_AWS_117: Lambda outside a VPC.
    ("ObserverFunction", "CKV_AWS_117"): "the observer probes both regions' public "
    "/health?probe=liveness and writes to two other regions' CloudWatch; a VPC in the "
    "observer region would need a NAT for exactly that traffic; it reads no private data",
    ("ValidatorFunction", "CKV_AWS_117"): "the readiness validator calls Route 53 (no VPC "
    "endpoint exists for it), RDS's control plane and the peer region's public /health to "
    "decide on failover; it reads no private data and holds no credentials but its role",
    # CKV_AWS_120: API Gateway response caching.
    ("TradingApiStage", "CKV_AWS_120"): "caching would serve stale answers: POST /trades must "
    "reach intake every time, and GET /health must show live health to Route 53's checkers "
    "or failover would be delayed by the cache TTL",
    # CKV_AWS_18: access logging of the access-log bucket.
    ("AccessLogsBucket", "CKV_AWS_18"): "this bucket is the server-access-log target of the "
    "config and audit buckets; logging it into itself would loop, and into another bucket "
    "would only move the question",
    # CKV_AWS_59: API methods without an authorizer.
    ("GetHealthMethod", "CKV_AWS_59"): "Route 53 health checkers call GET /health "
    "unauthenticated (they cannot sign requests); it returns region health only, no data",
    ("PostTradesMethod", "CKV_AWS_59"): "callers authenticate with the session token in the "
    "request body, which intake checks against the sessions global table before enqueueing. "
    "FINDING: no authorizer at the gateway, so unauthenticated calls reach (and bill) intake",
}


def suppressions_for(logical_id: str, resource_type: str) -> list[tuple[str, str]]:
    """(check id, reason) of every entry matching the resource, by id first, then type."""
    found = [
        (check, reason)
        for (target, check), reason in SUPPRESSIONS.items()
        if target in (logical_id, resource_type)
    ]
    return sorted(found)


def apply_suppressions(template: Template) -> None:
    """Write the matching entries into each resource's `Metadata.checkov.skip`."""
    for logical_id, resource in template.resources.items():
        matched = suppressions_for(logical_id, resource.resource_type)
        if not matched:
            continue
        metadata: dict[str, Any] = dict(resource.resource.get("Metadata", {}))
        checkov = dict(metadata.get("checkov", {}))
        skips = list(checkov.get("skip", []))
        known = {skip["id"] for skip in skips}
        skips += [
            {"id": check, "comment": reason} for check, reason in matched if check not in known
        ]
        checkov["skip"] = skips
        metadata["checkov"] = checkov
        resource.Metadata = metadata
