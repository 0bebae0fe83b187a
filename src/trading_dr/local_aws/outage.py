"""A region outage in the local AWS: every request addressed to a region that is down fails.

All services of the local AWS share one endpoint, so the region a request is addressed to
is read where AWS's own endpoints encode it for a signed request: the SigV4 credential
scope (`Credential=<key>/<date>/<region>/<service>/aws4_request`, in the Authorization
header or, presigned, the `X-Amz-Credential` query parameter). While `faults.region_down`
holds for that region the request is answered HTTP 503 `ServiceUnavailable` without
reaching moto, and recorded (`faults.refused_calls`), so a test can prove that a command
called nothing in the failed region. A real outage may also refuse or drop connections;
either way the caller gets nothing from that region.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from trading_dr.local_aws import faults

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")
_BODY = (
    "<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>"
    "<Message>{message}</Message></Error></ErrorResponse>"
)


def addressed_to(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(region, service) of a signed request, or None for an unsigned one."""
    found = _SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    if found:
        return found.group(1), found.group(2)
    credential = parse_qs(str(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential")
    if credential:
        parts = credential[0].split("/")
        if len(parts) == 5:
            return parts[2], parts[3]
    return None


def install() -> None:
    """Idempotent; called by `extension.install()`."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "_trading_dr_outage", False):
        return
    serve = DomainDispatcherApplication.__call__

    def dispatch(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        target = addressed_to(environ)
        if target is not None and faults.is_region_down(target[0]):
            region, service = target
            faults.record_refused(region, service)
            message = f"{service} in {region} is unavailable (local AWS: region outage)"
            body = _BODY.format(message=message).encode()
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]
        return serve(self, environ, start_response)

    DomainDispatcherApplication.__call__ = dispatch  # type: ignore[method-assign]
    DomainDispatcherApplication._trading_dr_outage = True  # type: ignore[attr-defined]
