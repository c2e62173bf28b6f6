"""`vipkeeper genhash`: print the MD5 digest of a URL's body, as keepalived's genhash does.

The digest is what an HTTP_GET / SSL_GET `url { digest ... }` compares against, computed
with the same request the checker sends. Unlike keepalived's genhash, a connection failure
exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from ipaddress import ip_address

from vipkeeper.checks.checkers.http import http_fetch
from vipkeeper.checks.checkers.result import Target


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """keepalived genhash's options."""
    parser.add_argument("-s", "--server", required=True, help="real server address")
    parser.add_argument("-p", "--port", type=int, help="port (default 80, or 443 with -S)")
    parser.add_argument("-u", "--url", required=True, help="URL path, e.g. /index.html")
    parser.add_argument("-S", "--use-ssl", action="store_true", help="connect with TLS")
    parser.add_argument("-I", "--use-sni", action="store_true", help="send SNI (the -V name)")
    parser.add_argument("-V", "--use-virtualhost", metavar="HOST", help="Host header to send")
    parser.add_argument("-P", "--protocol", default="1.0", choices=["1.0", "1.0c", "1.0C", "1.1"])
    parser.add_argument("-m", "--fwmark", type=int, help="mark the connection (SO_MARK)")
    parser.add_argument("-t", "--timeout", type=float, default=5.0, help="timeout in seconds")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print status and size")


def main(args: argparse.Namespace) -> int:
    """Fetch the URL and print its digest."""
    try:
        address = ip_address(args.server)
    except ValueError:
        print(f"genhash: {args.server!r} is not an IP address", file=sys.stderr)
        return 2
    port = args.port or (443 if args.use_ssl else 80)
    target = Target(address, port, fwmark=args.fwmark)
    sni = args.use_virtualhost if args.use_sni else None
    protocol = "1.0C" if args.protocol == "1.0c" else args.protocol
    try:
        resp = asyncio.run(
            http_fetch(
                target,
                args.url,
                timeout=args.timeout,
                use_ssl=args.use_ssl,
                host=args.use_virtualhost,
                sni=sni,
                protocol=protocol,
            )
        )
    except TimeoutError:
        print(f"genhash: {target.hostport}: timed out after {args.timeout:g}s", file=sys.stderr)
        return 1
    except (OSError, ValueError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        print(f"genhash: {target.hostport}: connection failed ({exc})", file=sys.stderr)
        return 1
    if args.verbose:
        print(f"HTTP status {resp.status}, body {len(resp.body)} bytes")
    print(resp.md5)
    return 0
