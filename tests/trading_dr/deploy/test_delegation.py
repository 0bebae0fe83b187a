"""A hosted zone created by the global stage: the rollout stops until the parent zone
delegates to it (issue 10 item 4). The DNS check speaks real DNS over UDP to a resolver;
its parser is fed hostile bytes."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.trading_dr.local_aws.fixtures import make_deployment, use_account
from trading_dr.cli import cli, register_operating_commands
from trading_dr.config import Environment
from trading_dr.deploy.delegation import (
    DnsError,
    build_query,
    is_delegated,
    parse_ns_answer,
    system_resolvers,
)
from trading_dr.deploy.deployed import StageResult
from trading_dr.deploy.rollout import Rollout, deploy
from trading_dr.local_aws.server import LocalAws

register_operating_commands()


def test_a_new_zone_stops_the_rollout_until_it_is_delegated(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    # GIVEN prod (no hosted_zone_id: the global stage creates the zone), not delegated
    asked: list[tuple[str, list[str]]] = []
    dep = make_deployment(local_aws, prod, prod_files)

    def not_yet(domain: str, servers: list[str]) -> bool:
        asked.append((domain, servers))
        return False

    dep.delegation_check = not_yet

    # WHEN it deploys
    first = deploy(dep)

    # THEN it stops after the global stage with the zone's NS records to add at the parent
    assert [(r.name, r.status) for r in first] == [
        ("bootstrap", "created"),
        ("global", "created"),
        ("delegate", "waiting"),
    ]
    route53 = dep.clients.client("route53", "us-east-1")
    zone = first[1].outputs["HostedZoneId"]
    servers = route53.get_hosted_zone(Id=zone)["DelegationSet"]["NameServers"]
    assert asked == [("trading.example.com", servers)]
    assert first[-1].reasons == [f"trading.example.com. NS {name}." for name in servers]
    cfn = dep.clients.client("cloudformation", "us-east-1")
    assert [s["StackSetName"] for s in cfn.list_stack_sets()["Summaries"]] == [
        "trading-prod-global"
    ]

    # AND once DNS answers with those servers, a re-run goes on from there
    again = make_deployment(local_aws, prod, prod_files)
    again.delegation_check = lambda domain, found: found == servers
    second = deploy(again)
    assert [(r.name, r.status) for r in second] == [
        ("bootstrap", "unchanged"),
        ("global", "unchanged"),
        ("primary", "created"),
        ("migrate", "unchanged"),
        ("secondary", "created"),
        ("observer", "created"),
        ("link", "updated"),
    ]


def test_an_existing_zone_is_never_checked(
    local_aws: LocalAws, prod: Environment, prod_files: dict[str, bytes]
) -> None:
    existing = replace(prod, hosted_zone_id="Z0123456789ABCDEFGHIJ")
    dep = make_deployment(local_aws, existing, prod_files)

    def refuse(domain: str, servers: list[str]) -> bool:
        raise AssertionError("an existing zone needs no delegation check")

    dep.delegation_check = refuse
    assert Rollout(dep).delegation(StageResult("global", "unchanged")) is None


def test_deploy_stops_with_the_records_and_the_next_command(
    local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_account(local_aws, "111111111111", monkeypatch)
    endpoint = ["--endpoint-url", local_aws.endpoint_url, "--env", "prod"]

    result = CliRunner().invoke(cli, ["deploy", *endpoint])

    assert result.exit_code == 1, result.output
    assert "stopped after the global stage: the new hosted zone" in result.stderr
    assert "trading.example.com. NS ns-2048.awsdns-64.com." in result.stderr
    assert "then run: trading-dr deploy --env prod" in result.stderr
    stages = [line.split()[:2] for line in result.stdout.splitlines() if line[:1].isalpha()]
    assert stages[-1] == ["delegate", "waiting"]


# -- the DNS check ---------------------------------------------------------------------

ZONE_SERVERS = ["ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk"]


def response(query: bytes, targets: list[str], owner: str = "trading.example.com") -> bytes:
    """A DNS response to `query` with NS records; names after the first are compressed
    against the question (as resolvers do)."""
    query_id = struct.unpack(">H", query[:2])[0]
    question = query[12:]
    header = struct.pack(">HHHHHH", query_id, 0x8180, 1, len(targets), 0, 0)
    owner_ref = b"\xc0\x0c" if owner == "trading.example.com" else encode(owner)
    records = b""
    for target in targets:
        data = encode(target)
        records += owner_ref + struct.pack(">HHIH", 2, 1, 300, len(data)) + data
    return header + question + records


def encode(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p) + b"\0"


@pytest.fixture
def resolver() -> Iterator[tuple[int, list[bytes | None]]]:
    """A UDP DNS server on 127.0.0.1 answering each query with the next queued answer
    (None: silence); yields (port, queue of answers as functions of the query)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    answers: list[object] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                query, peer = sock.recvfrom(512)
            except TimeoutError:
                continue
            answer = answers.pop(0) if answers else None
            if callable(answer):
                sock.sendto(answer(query), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1], answers  # type: ignore[misc]
    stop.set()
    thread.join()
    sock.close()


@pytest.mark.parametrize(
    ("answer", "delegated"),
    [
        (lambda q: response(q, ZONE_SERVERS), True),
        (lambda q: response(q, [n.upper() + "." for n in ZONE_SERVERS]), True),
        (lambda q: response(q, ZONE_SERVERS[:1]), True),  # a resolver may cache a subset
        (lambda q: response(q, ["ns-9.awsdns-09.com"]), False),  # an older zone's servers
        (lambda q: response(q, []), False),  # NOERROR, no answer: the parent has no NS
        (lambda q: response(q, ZONE_SERVERS, owner="example.com"), False),
        (lambda q: b"\x00" * 40, False),  # garbage
        (None, False),  # silence: the resolver timed out
    ],
    ids=[
        "zone",
        "case-and-dot",
        "subset",
        "other-zone",
        "empty",
        "other-owner",
        "garbage",
        "timeout",
    ],
)
def test_dns_answer_decides(
    resolver: tuple[int, list[object]], answer: object, delegated: bool
) -> None:
    port, answers = resolver
    answers.append(answer)
    assert (
        is_delegated("trading.example.com", ZONE_SERVERS, ["127.0.0.1"], port=port, timeout_s=0.5)
        is delegated
    )


def test_system_resolvers_read_resolv_conf(tmp_path: object) -> None:
    from pathlib import Path

    conf = Path(str(tmp_path)) / "resolv.conf"
    conf.write_text("# c\nsearch x\nnameserver 10.0.0.2\nnameserver ::1\noptions ndots:1\n")
    assert system_resolvers(conf) == ["10.0.0.2", "::1"]
    assert system_resolvers(conf.with_name("absent")) == []


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
NAME = st.lists(LABEL, min_size=1, max_size=5).map(".".join)


@given(st.lists(NAME, max_size=6))
def test_a_response_round_trips(targets: list[str]) -> None:
    query = build_query("trading.example.com", 7)
    assert parse_ns_answer(response(query, targets), 7, "trading.example.com") == set(targets)


@given(st.binary(max_size=600), st.integers(0, 0xFFFF))
def test_hostile_bytes_raise_only_dns_error(packet: bytes, query_id: int) -> None:
    with contextlib.suppress(DnsError):
        parse_ns_answer(packet, query_id, "trading.example.com")


@given(st.binary(max_size=200))
def test_hostile_records_after_a_valid_header_raise_only_dns_error(tail: bytes) -> None:
    query = build_query("trading.example.com", 9)
    packet = struct.pack(">HHHHHH", 9, 0x8180, 1, 3, 0, 0) + query[12:] + tail
    with contextlib.suppress(DnsError):
        parse_ns_answer(packet, 9, "trading.example.com")
