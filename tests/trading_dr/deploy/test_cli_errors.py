"""Every user-reachable failure of `trading-dr` is one line, `error: …; fix: …`, with its exit
code; no traceback (issue 14 item 2). Bad endpoints are real: a refused URL, and a real HTTP
server on 127.0.0.1 answering what a broken endpoint answers."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_dr.cli import cli, register_operating_commands
from trading_dr.deploy.cli_common import check_endpoint_url
from trading_dr.errors import UsageError

register_operating_commands()

STS_ANSWER = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    b"<GetCallerIdentityResult><Arn>arn:aws:iam::111111111111:user/t</Arn><UserId>T</UserId>"
    b"<Account>111111111111</Account></GetCallerIdentityResult>"
    b"<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@contextmanager
def broken_endpoint(body: bytes) -> Iterator[str]:
    """An endpoint that knows who the caller is (STS) and answers HTTP 500 `body` to the rest."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = b"GetCallerIdentity" in request
            self.send_response(200 if ok else 500)
            self.send_header("Content-Type", "text/xml" if ok else "text/html")
            self.end_headers()
            self.wfile.write(STS_ANSWER if ok else body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def assert_one_line_error(output: str, *fragments: str) -> None:
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("error: ")
    assert "; fix: " in lines[0]
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("127.0.0.1:4566", "has no scheme"),
        ("http://127.0.0.1:4566x", "has a port that is not a number"),
        ("http://127.0.0.1:70000", "has a port that is not a number"),
        ("ftp://127.0.0.1:4566", "has scheme ftp"),
        ("http://:4566", "has no host"),
        ("http://bad host:4566", "is not a URL botocore accepts"),
    ],
)
def test_a_malformed_endpoint_url_is_a_usage_error(url: str, says: str) -> None:
    result = CliRunner().invoke(cli, ["status", "--endpoint-url", url])

    assert result.exit_code == 2
    assert_one_line_error(result.stderr, says, "fix: give http:// or https://")


@given(st.text(max_size=40) | st.builds(lambda t: f"http://{t}", st.text(max_size=30)))
@settings(max_examples=60, deadline=None)
def test_an_endpoint_url_is_refused_in_one_line_or_accepted_by_botocore(url: str) -> None:
    message: str | None = None
    try:
        check_endpoint_url(url)
    except UsageError as exc:
        message = str(exc)
    if message is not None:
        assert "\n" not in message
        assert "; fix: " in message
        return
    # Accepted: creating a client with it must not fail (no traceback later either).
    boto3.client("sts", region_name="us-east-1", endpoint_url=url)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html><title>500 Internal Server Error</title></html>", "HTTP 500 from the endpoint"),
        (b'<?xml version="1.0"?><Error><broken', "is not an AWS API response"),
    ],
)
def test_an_endpoint_answering_500_is_one_line_exit_1(body: bytes, says: str) -> None:
    with broken_endpoint(body) as url:
        result = CliRunner().invoke(cli, ["status", "--endpoint-url", url])

        assert result.exit_code == 1
        assert_one_line_error(result.stderr, says)


def test_local_aws_on_a_taken_port_is_one_line_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["local-aws", "--port", str(port)])

    assert result.exit_code == 2
    assert_one_line_error(result.stderr, f"cannot listen on 127.0.0.1:{port}", "--port")
