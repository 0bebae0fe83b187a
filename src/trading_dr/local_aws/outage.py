"""A region outage in the local AWS: every request addressed to a region that is down fails.

All services of the local AWS share one endpoint, so the region a request is addressed to
is read where AWS's own endpoints encode it for a signed request: the SigV4 credential
scope (`Credential=<key>/<date>/<region>/<service>/aws4_request`, in the Authorization
header or, presigned, the `X-Amz-Credential` query parameter). While `faults.region_down`
holds for that region the request is answered HTTP 503 `ServiceUnavailable` without
reaching moto, and recorded (`faults.refused_calls`), so a test can prove that a command
called nothing in the failed region. A real outage may also refuse or drop connections;
either way the caller gets nothing from that region.

`CONTROL_PATH` lets another process cut or restore regions of a running local AWS (the
`local-aws --region-down/--region-up` command): GET answers `{"down": [...]}`; POST
`{"down": [...], "up": [...]}` applies, then answers the same; a name that is not a region's
is refused (HTTP 400).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from trading_dr.local_aws import faults

CONTROL_PATH = "/trading-dr/regions"
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
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


def _answer(start_response: Any, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]


def control(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The regions that are down: read (GET) or changed (POST)."""
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            asked = json.loads(environ["wsgi.input"].read(length) or b"{}")
            down, up = list(asked.get("down", [])), list(asked.get("up", []))
        except (ValueError, AttributeError, TypeError):
            return _answer(start_response, "400 Bad Request", {"error": "a JSON object"})
        wrong = [r for r in [*down, *up] if not isinstance(r, str) or not REGION_NAME.fullmatch(r)]
        if wrong:
            return _answer(start_response, "400 Bad Request", {"error": f"not regions: {wrong}"})
        for region in down:
            faults.region_down(region)
        for region in up:
            faults.region_up(region)
    return _answer(start_response, "200 OK", {"down": faults.regions_down()})


def install() -> None:
    """Idempotent; called by `extension.install()`."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "_trading_dr_outage", False):
        return
    serve = DomainDispatcherApplication.__call__

    def dispatch(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == CONTROL_PATH:
            return control(environ, start_response)
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
