"""DNS_CHECK: a query for `name`/`type` gets a NOERROR answer with the same id.

A minimal RFC 1035 client: one question, recursion desired, over UDP. The reply must echo
the id with QR set, RCODE 0 and at least one answer record.
"""

from __future__ import annotations

import random
import struct

from vipkeeper.checks.checkers.dgram import exchange
from vipkeeper.checks.checkers.result import CheckResult, Target
from vipkeeper.config.model import DnsCheck

QTYPES = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28,
    "RRSIG": 46, "DNSKEY": 48,
}  # fmt: skip


def encode_name(name: str) -> bytes:
    """Wire form of a domain name."""
    out = bytearray()
    for label in name.strip(".").split("."):
        if label:
            raw = label.encode("idna")
            if len(raw) > 63:
                raise ValueError(f"DNS label too long: {label!r}")
            out += bytes([len(raw)]) + raw
    return bytes(out + b"\x00")


def encode_query(qid: int, name: str, qtype: str) -> bytes:
    """A standard query with RD set."""
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    return header + encode_name(name) + struct.pack("!HH", QTYPES[qtype.upper()], 1)


def judge_reply(qid: int, data: bytes) -> CheckResult:
    """Whether a reply answers query `qid` successfully."""
    if len(data) < 12:
        return CheckResult(False, "short DNS reply")
    rid, flags, _qd, ancount, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
    if rid != qid or not flags & 0x8000:
        return CheckResult(False, "DNS reply does not match the query")
    if flags & 0x000F:
        return CheckResult(False, f"DNS RCODE {flags & 0x000F}")
    if ancount == 0:
        return CheckResult(False, "DNS reply has no answer")
    return CheckResult(True, f"{ancount} answer(s)")


async def dns_check(check: DnsCheck, target: Target, timeout: float) -> CheckResult:
    """Send the query and judge the reply."""
    qid = random.randrange(0x10000)
    try:
        query = encode_query(qid, check.name, check.type)
    except (KeyError, ValueError) as exc:
        return CheckResult(False, f"DNS_CHECK: bad query ({exc})")
    try:
        data = await exchange(target, query, timeout, lambda d: d[:2] == query[:2])
    except TimeoutError:
        return CheckResult(False, f"DNS_CHECK {target.hostport}: no reply")
    except OSError as exc:
        return CheckResult(False, f"DNS_CHECK {target.hostport}: {exc.strerror or exc}")
    return judge_reply(qid, data)
