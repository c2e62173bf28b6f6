# The daemon's receive fast path (IPv4). A backup hears the same advert from its master every
# interval. The core keeps it (VrrpInstance.fast_advert) and takes it again with `refresh`,
# which does all that `receive_advert` would. Here a raw packet is matched against that advert
# before anything is parsed or built: an IPv4 header of 20 bytes (no options), a total length
# equal to what was read, and the same TTL, source, destination and payload, byte for byte.
# Such a packet parses into exactly the datagram the core kept. The core stays the authority:
# `refresh` refuses an advert it no longer keeps, and the packet then goes the full way.
"""Matching raw IPv4 packets against the adverts the VRRP cores keep for their fast path."""

from __future__ import annotations

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.instance import FastAdvert, VrrpInstance

_V4_NO_OPTIONS = 0x45  # version 4, header length 5 words
_HEADER = 20


@dataclass(frozen=True, **SLOTS)
class FastEntry:
    """A core's fast-path advert, as the raw packet that carries it shows it."""

    advert: FastAdvert
    payload: bytes
    addrs: bytes  # source and destination, packed: bytes 12 to 20 of the IPv4 header
    ttl: int
    core: VrrpInstance


def entry_for(core: VrrpInstance) -> FastEntry | None:
    """The core's fast-path advert as an entry; None when it keeps none (or not an IPv4 one)."""
    adv = core.fast_advert
    if adv is None or adv[1].version != 4 or adv[2].version != 4:
        return None
    return FastEntry(adv, adv[0], adv[1].packed + adv[2].packed, adv[3], core)


def match(raw: bytes, table: dict[int, FastEntry]) -> FastEntry | None:
    """The entry (by VRID) whose advert the raw IPv4 packet repeats exactly, or None."""
    n = len(raw)
    if n < _HEADER + 2 or raw[0] != _V4_NO_OPTIONS:
        return None
    entry = table.get(raw[_HEADER + 1])
    if (
        entry is None
        or raw[8] != entry.ttl
        or (raw[2] << 8 | raw[3]) != n
        or raw[12:20] != entry.addrs
        or raw[_HEADER:] != entry.payload
    ):
        return None
    return entry
