"""Audit objects of trade batches: what they are and how one is put into the audit bucket.

The processor writes each batch's object into the database outbox with the batch's rows;
the shipper puts it into S3. Both go through `put_audit_object`, so an object put directly
(when the database is down) and one shipped later look the same in the bucket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditObject:
    key: str  # <prefix><region>/YYYY/MM/DD/HHMMSSffffff-<batch id>.jsonl
    body: bytes  # JSON Lines, one line per record of the batch


def put_audit_object(s3: Any, bucket: str, audit: AuditObject) -> None:
    # An explicit checksum: Object Lock buckets refuse PUTs without one.
    s3.put_object(
        Bucket=bucket,
        Key=audit.key,
        Body=audit.body,
        ContentType="application/x-ndjson",
        ChecksumAlgorithm="SHA256",
    )
