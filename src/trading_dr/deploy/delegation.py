"""Is a new hosted zone delegated yet? Asks DNS for the domain's NS records.

A hosted zone created by the global stage answers nothing until the parent zone
delegates to its name servers, and until then ACM cannot validate the regional
certificates (the primary stage would wait in CREATE_IN_PROGRESS and fail). So `deploy`
stops after the global stage until a resolver answers the domain's NS query with the
zone's own name servers (a subset: another zone's servers mean the parent delegates to
an older zone of the same name).

The query is a plain DNS message over UDP (RFC 1035) to the system's resolvers, so no
DNS library is needed; the answer is untrusted input and parsed defensively: anything
malformed is a DnsError, never an IndexError or an endless compression loop.
"""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Callable, Iterable
from pathlib import Path

NS_TYPE, IN_CLASS = 2, 1
MAX_POINTERS = 32  # a name with more compression pointers than this is a loop
RESOLV_CONF = Path("/etc/resolv.conf")
# (domain, name servers of the zone) -> whether DNS answers with them
DelegationCheck = Callable[[str, list[str]], bool]


class DnsError(ValueError):
    """A DNS message that is malformed or does not answer our query."""


def normalise(name: str) -> str:
    return name.lower().rstrip(".")


def build_query(domain: str, query_id: int) -> bytes:
    """A recursive NS query for `domain`."""
    header = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0)  # RD set, one question
    labels = b"".join(
        bytes([len(part)]) + part for part in (p.encode("ascii") for p in domain.split(".")) if part
    )
    return header + labels + b"\0" + struct.pack(">HH", NS_TYPE, IN_CLASS)


def _read_name(packet: bytes, offset: int) -> tuple[str, int]:
    """The name at `offset` (following compression pointers) and the offset after it."""
    labels: list[str] = []
    end: int | None = None
    for _ in range(MAX_POINTERS + 255):
        if offset >= len(packet):
            raise DnsError("name runs past the end of the message")
        length = packet[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(packet):
                raise DnsError("truncated compression pointer")
            if end is None:
                end = offset + 2
            target = ((length & 0x3F) << 8) | packet[offset + 1]
            if target >= offset:
                raise DnsError("compression pointer does not point backwards")
            offset = target
            continue
        if length & 0xC0:
            raise DnsError("unknown label type")
        if length == 0:
            return ".".join(labels), end if end is not None else offset + 1
        label = packet[offset + 1 : offset + 1 + length]
        if len(label) != length:
            raise DnsError("label runs past the end of the message")
        labels.append(label.decode("ascii", errors="replace"))
        offset += 1 + length
    raise DnsError("name too long")


def parse_ns_answer(packet: bytes, query_id: int, domain: str) -> set[str]:
    """The NS targets for `domain` in the answer section of a response to our query."""
    if len(packet) < 12:
        raise DnsError("message shorter than a DNS header")
    answer_id, flags, questions, answers = struct.unpack(">HHHH", packet[:8])
    if answer_id != query_id or not flags & 0x8000:
        raise DnsError("not a response to this query")
    offset = 12
    for _ in range(questions):
        _, offset = _read_name(packet, offset)
        offset += 4
    found: set[str] = set()
    for _ in range(answers):
        owner, offset = _read_name(packet, offset)
        if offset + 10 > len(packet):
            raise DnsError("record header runs past the end of the message")
        rtype, rclass, _ttl, length = struct.unpack(">HHIH", packet[offset : offset + 10])
        offset += 10
        if offset + length > len(packet):
            raise DnsError("record data runs past the end of the message")
        if rtype == NS_TYPE and rclass == IN_CLASS and normalise(owner) == normalise(domain):
            target, _ = _read_name(packet, offset)
            found.add(normalise(target))
        offset += length
    return found


def system_resolvers(conf: Path = RESOLV_CONF) -> list[str]:
    try:
        lines = conf.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [parts[1] for parts in (line.split() for line in lines) if parts[:1] == ["nameserver"]][
        :3
    ]


def ask(resolver: str, domain: str, timeout_s: float = 2.0, port: int = 53) -> set[str]:
    """The NS set `resolver` answers for `domain` (empty: no answer)."""
    query_id = random.randrange(1 << 16)
    family = socket.AF_INET6 if ":" in resolver else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        sock.sendto(build_query(domain, query_id), (resolver, port))
        packet, _ = sock.recvfrom(4096)
    return parse_ns_answer(packet, query_id, domain)


def answers_with(found: Iterable[str], expected: Iterable[str]) -> bool:
    found_set = {normalise(n) for n in found}
    return bool(found_set) and found_set <= {normalise(n) for n in expected}


def is_delegated(
    domain: str,
    name_servers: list[str],
    resolvers: list[str] | None = None,
    port: int = 53,
    timeout_s: float = 2.0,
) -> bool:
    """True once any (system) resolver answers `domain`'s NS with the zone's servers."""
    for resolver in system_resolvers() if resolvers is None else resolvers:
        try:
            if answers_with(ask(resolver, domain, timeout_s, port), name_servers):
                return True
        except (OSError, DnsError):
            continue  # unreachable resolver or a bad answer: try the next
    return False
