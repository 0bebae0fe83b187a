"""Artifacts in the per-region buckets: Lambda zips and templates too big to send inline.

Keys are content-addressed (the generator names zips `lambda/<name>-<hash>.zip`;
templates go to `templates/<role>-<sha256>.yaml`), so an object that exists is the
right one: a re-run checks with HeadObject and uploads nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from trading_dr.deploy.retry import Pacing, call, error_code

INLINE_TEMPLATE_LIMIT = 51_200  # bytes; CloudFormation's TemplateBody maximum
LAMBDA_PREFIX = "lambda/"


def lambda_files(files: Mapping[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in files.items() if k.startswith(LAMBDA_PREFIX) and k.endswith(".zip")}


def object_exists(s3: Any, pacing: Pacing, bucket: str, key: str) -> bool:
    try:
        call(pacing, s3.head_object, Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def ensure_object(s3: Any, pacing: Pacing, bucket: str, key: str, data: bytes) -> bool:
    """Upload unless present; True if uploaded."""
    if object_exists(s3, pacing, bucket, key):
        return False
    call(pacing, s3.put_object, Bucket=bucket, Key=key, Body=data, ServerSideEncryption="AES256")
    return True


def template_source(
    s3: Any, pacing: Pacing, bucket: str, region: str, role: str, body: bytes
) -> dict[str, str]:
    """TemplateBody when it fits inline, else TemplateURL of an uploaded copy."""
    if len(body) <= INLINE_TEMPLATE_LIMIT:
        return {"TemplateBody": body.decode()}
    key = f"templates/{role}-{hashlib.sha256(body).hexdigest()}.yaml"
    ensure_object(s3, pacing, bucket, key, body)
    return {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}
