# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's addresses from an rtnetlink RTM_GETADDR dump, with the kernel's creation time."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import struct
import threading
import time

NETLINK_ROUTE = 0
RTM_NEWADDR = 20
RTM_GETADDR = 22
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_CACHEINFO = 6

_NLMSGHDR = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
_CACHEINFO = struct.Struct("=IIII")


def _align(n):
    return (n + 3) & ~3


def parse_addr_messages(data, now_epoch, now_monotonic, ifname=None):
    """Decode RTM_NEWADDR messages; `created` is the kernel's cstamp as a Unix time."""
    name_of = ifname or _ifname
    found = []
    offset = 0
    done = False
    while offset + _NLMSGHDR.size <= len(data):
        length, mtype, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            break
        body = data[offset + _NLMSGHDR.size : offset + length]
        offset += _align(length)
        if mtype == NLMSG_DONE:
            done = True
            break
        if mtype == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", body, 0)
            if code:
                raise OSError(-code, os.strerror(-code))
            continue
        if mtype != RTM_NEWADDR or len(body) < _IFADDRMSG.size:
            continue
        family, prefix, _fl, _scope, index = _IFADDRMSG.unpack_from(body, 0)
        attrs = {}
        pos = _IFADDRMSG.size
        while pos + _RTATTR.size <= len(body):
            alen, atype = _RTATTR.unpack_from(body, pos)
            if alen < _RTATTR.size:
                break
            attrs[atype] = body[pos + _RTATTR.size : pos + alen]
            pos += _align(alen)
        raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
        if family == socket.AF_INET and raw and len(raw) == 4:
            address = str(ipaddress.IPv4Address(raw))
        elif family == socket.AF_INET6 and raw and len(raw) == 16:
            address = str(ipaddress.IPv6Address(raw))
        else:
            continue
        created = None
        info = attrs.get(IFA_CACHEINFO)
        if info and len(info) >= _CACHEINFO.size:
            cstamp = _CACHEINFO.unpack_from(info, 0)[2]
            # cstamp counts hundredths of a second since boot (the monotonic clock's origin).
            created = round(now_epoch - (now_monotonic - cstamp / 100.0), 2)
        found.append(
            {
                "address": address,
                "prefix": prefix,
                "family": 4 if family == socket.AF_INET else 6,
                "interface": name_of(index),
                "created": created,
            }
        )
    return found, done


def _ifname(index):
    try:
        return socket.if_indextoname(index)
    except OSError:
        return str(index)


def netlink_addresses():
    """Every address of the host (both families) through rtnetlink."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    try:
        sock.settimeout(5)
        sock.bind((0, 0))
        request = _NLMSGHDR.pack(
            _NLMSGHDR.size + _IFADDRMSG.size, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0
        ) + _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        sock.send(request)
        found = []
        while True:
            data = sock.recv(65536)
            now_epoch, now_mono = time.time(), time.monotonic()
            part, done = parse_addr_messages(data, now_epoch, now_mono)
            found.extend(part)
            if done or not data:
                return found
    finally:
        sock.close()


RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100


class AddrMonitor:
    """Address additions as they happen: a thread notes when each RTM_NEWADDR event arrived."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.bind((0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))
        self.sock.settimeout(0.2)
        self.added = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.time()
            for item in parse_addr_messages(data, now, time.monotonic())[0]:
                self.added.setdefault(item["address"], round(now, 3))

    def wait(self, timeout):
        """Sleep while the thread listens."""
        self._stop.wait(timeout)

    def close(self):
        self._stop.set()
        self._thread.join(1.0)
        self.sock.close()


def parse_ip_json(text):
    """Addresses from `ip -j addr show` (no creation time)."""
    found = []
    for link in json.loads(text or "[]"):
        for info in link.get("addr_info", []):
            family = {"inet": 4, "inet6": 6}.get(info.get("family"))
            if family is None or "local" not in info:
                continue
            found.append(
                {
                    "address": str(ipaddress.ip_address(info["local"])),
                    "prefix": info.get("prefixlen"),
                    "family": family,
                    "interface": link.get("ifname"),
                    "created": None,
                }
            )
    return found


def host_addresses(module=None):
    """Netlink first; `ip -j addr show` through the module when netlink is not allowed."""
    try:
        return netlink_addresses(), "netlink"
    except OSError:
        if module is None:
            raise
    rc, out, err = module.run_command(["ip", "-j", "addr", "show"])
    if rc != 0:
        module.fail_json(msg="cannot list addresses: netlink refused and ip failed: %s" % err)
    return parse_ip_json(out), "ip"
