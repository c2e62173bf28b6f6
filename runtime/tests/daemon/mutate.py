"""Send malformed and mutated VRRP packets (run inside a lab node by test_robustness).

Every packet is invalid by construction, so a daemon that changes state because of one is
wrong: truncations, one changed byte (any single-byte change breaks the checksum), random
garbage, and valid adverts that arrive with TTL 64. Prints how many packets were sent.

    python mutate.py COUNT SRC DST [DST...]
"""

from __future__ import annotations

import random
import socket
import sys
import time
from ipaddress import ip_address

from vipkeeper.net.vrrpsock import VrrpSocket
from vipkeeper.vrrp.packet import Advert, encode_advert


def packets(count: int, src: str, dst: str, seed: int = 112) -> list[tuple[bytes, bool]]:
    """(payload, low_ttl) pairs."""
    rng = random.Random(seed)
    base = encode_advert(
        Advert(3, 51, 200, 10, (ip_address("10.213.1.100"),), family=4),
        ip_address(src),
        ip_address(dst),
    )
    assert base[6:8] not in (b"\x00\x00", b"\xff\xff")
    out: list[tuple[bytes, bool]] = []
    for _ in range(count):
        kind = rng.randrange(4)
        if kind == 0:
            out.append((base[: rng.randrange(len(base))], False))
        elif kind == 1:
            i = rng.randrange(len(base))
            data = bytearray(base)
            data[i] = (data[i] + rng.randrange(1, 256)) % 256
            out.append((bytes(data), False))
        elif kind == 2:
            out.append((rng.randbytes(rng.randrange(0, 120)), False))
        else:
            out.append((base, True))
    return out


def main() -> None:
    """Send COUNT packets to each DST."""
    count, src = int(sys.argv[1]), sys.argv[2]
    dsts = [ip_address(d) for d in sys.argv[3:]]
    index = socket.if_nametoindex("eth0")
    sock = VrrpSocket("eth0", index, 4)
    low = VrrpSocket("eth0", index, 4)
    low.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)
    low.sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 64)
    sent = 0
    per_dst = count // len(dsts)
    for dst in dsts:
        for i, (data, low_ttl) in enumerate(packets(per_dst, src, str(dst), seed=int(dst))):
            (low if low_ttl else sock).send(data, dst)
            sent += 1
            if i % 500 == 499:
                time.sleep(0.02)  # stay under what the bridge and a socket buffer hold
    print(sent)


if __name__ == "__main__":
    main()
