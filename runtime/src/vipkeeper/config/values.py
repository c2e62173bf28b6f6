"""Value parsers for keepalived.conf arguments: booleans, numbers, addresses, scripts."""

from __future__ import annotations

import ipaddress
import math
import shlex

from vipkeeper.config.model import IPAddress, IPInterface, ScriptCommand

TRUE_WORDS = frozenset({"on", "true", "yes"})
FALSE_WORDS = frozenset({"off", "false", "no"})


class ValueError_(Exception):
    """A bad argument; the message says why."""


def parse_bool(text: str) -> bool:
    """on|off|true|false|yes|no."""
    low = text.lower()
    if low in TRUE_WORDS:
        return True
    if low in FALSE_WORDS:
        return False
    raise ValueError_(f"'{text}' is not a boolean (on|off|true|false|yes|no)")


def parse_int(text: str, lo: int, hi: int) -> int:
    """A decimal integer within [lo, hi]."""
    try:
        value = int(text, 10)
    except ValueError:
        raise ValueError_(f"'{text}' is not an integer") from None
    if not lo <= value <= hi:
        raise ValueError_(f"number '{text}' outside range [{lo}, {hi}]")
    return value


def parse_float(text: str, lo: float, hi: float) -> float:
    """A decimal number within [lo, hi] (times are seconds, fractions allowed)."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError_(f"'{text}' is not a number") from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError_(f"number '{text}' outside range [{lo:g}, {hi:g}]")
    return value


def parse_ip(text: str) -> IPAddress:
    """An IPv4 or IPv6 address (no prefix)."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise ValueError_(f"'{text}' is not a valid IP address") from None


def parse_interface(text: str) -> IPInterface:
    """`ADDR[/PREFIX]`; a missing prefix is the host prefix (/32 or /128)."""
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        raise ValueError_(f"'{text}' is not a valid IP address or prefix") from None


def parse_port(text: str) -> int:
    """A TCP/UDP port 0..65535."""
    return parse_int(text, 0, 65535)


def parse_script(words: list[str]) -> ScriptCommand:
    """`"command args" [user [group]]`, as keepalived's script keywords take them."""
    if not words:
        raise ValueError_("a script command is required")
    command, rest = words[0], words[1:]
    if command.startswith("'"):  # a single-quoted command spread over several words
        for i in range(len(words)):
            if words[i].endswith("'") and (i > 0 or len(words[0]) > 1):
                command, rest = " ".join(words[: i + 1])[1:-1], words[i + 1 :]
                break
    if len(rest) > 2:
        raise ValueError_(f"too many words after the script command: {' '.join(rest)}")
    try:
        argv = tuple(shlex.split(command))
    except ValueError as exc:
        raise ValueError_(f"cannot split script command: {exc}") from None
    if not argv:
        raise ValueError_("empty script command")
    return ScriptCommand(
        command=command,
        argv=argv,
        user=rest[0] if rest else None,
        group=rest[1] if len(rest) > 1 else None,
    )
