# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vrrp_scan backend: listen on one interface (AF_PACKET, all multicast) and list VRRP routers."""

from __future__ import annotations

import socket
import struct
import time

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.vrrp_wire import (
    NotVrrp,
    decode_packet,
)

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_ALLMULTI = 2
PACKET_OUTGOING = 4


class Routers:
    """Advertisements grouped by (family, VRID, source)."""

    def __init__(self, interface):
        self.interface = interface
        self.by_key = {}
        self.malformed = 0

    def add(self, packet, now, outgoing=False):
        try:
            advert = decode_packet(packet)
        except NotVrrp:
            if len(packet) > 9 and (
                (packet[0] >> 4 == 4 and packet[9] == 112)
                or (packet[0] >> 4 == 6 and packet[6] == 112)
            ):
                self.malformed += 1
            return None
        key = (advert["family"], advert["vrid"], advert["source"])
        entry = self.by_key.get(key)
        if entry is None:
            entry = dict(
                advert,
                interface=self.interface,
                adverts=0,
                first_seen=round(now, 3),
                local=outgoing,
                priorities=[],
            )
            self.by_key[key] = entry
        entry.update(
            priority=advert["priority"],
            vips=advert["vips"],
            advert_int=advert["advert_int"],
            last_seen=round(now, 3),
        )
        entry["adverts"] += 1
        entry["local"] = entry["local"] or outgoing
        if advert["priority"] not in entry["priorities"]:
            entry["priorities"].append(advert["priority"])
        return entry

    def result(self, include_local=True):
        routers = [r for r in self.by_key.values() if include_local or not r["local"]]
        routers.sort(key=lambda r: (r["family"], r["vrid"], r["source"]))
        vrids = []
        for r in routers:
            item = {
                "vrid": r["vrid"],
                "family": "ipv4" if r["family"] == 4 else "ipv6",
                "interface": self.interface,
            }
            if item not in vrids:
                vrids.append(item)
        return {"routers": routers, "vrids": vrids, "malformed": self.malformed}


def listen(interface, seconds, include_local=True):
    """Capture VRRP on `interface` for `seconds` (needs CAP_NET_RAW)."""
    index = socket.if_nametoindex(interface)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    routers = Routers(interface)
    try:
        sock.bind((interface, ETH_P_ALL))
        mreq = struct.pack("iHH8s", index, PACKET_MR_ALLMULTI, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                packet, addr = sock.recvfrom(65535)
            except socket.timeout:
                break
            if addr[1] not in (0x0800, 0x86DD):
                continue
            routers.add(packet, time.time(), outgoing=addr[2] == PACKET_OUTGOING)
    finally:
        sock.close()
    return routers.result(include_local)
