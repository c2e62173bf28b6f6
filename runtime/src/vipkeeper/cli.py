"""vipkeeper command line: `vipkeeper run | check | status | genhash`.

Each subcommand lives in its own module and is imported only when it is used, so that
`vipkeeper check` does not pay for pyroute2 or asyncio start-up. A subcommand module
exposes `add_arguments(parser)` and `main(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Protocol, cast

from vipkeeper import __version__

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("vipkeeper.config.checkcmd", "test a keepalived.conf, as `keepalived -t` does"),
    "run": ("vipkeeper.daemon.runcmd", "run the VRRP/LVS daemon"),
    "status": ("vipkeeper.daemon.statuscmd", "show the running daemon's instances"),
    "genhash": ("vipkeeper.lvs.genhash", "print the MD5 digest of a URL, as keepalived's genhash"),
}


class _Command(Protocol):
    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def main(self, args: argparse.Namespace) -> int: ...


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vipkeeper",
        description="A keepalived-compatible VRRP/LVS runtime.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n"
        + "\n".join(f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()),
    )
    parser.add_argument("--version", action="version", version=f"vipkeeper {__version__}")
    parser.add_argument("command", choices=sorted(COMMANDS), help="the command to run")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `vipkeeper` console script."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not args_in or args_in[0] not in COMMANDS:
        _top_parser().parse_args(args_in or ["--help"])
        return 2
    name, rest = args_in[0], args_in[1:]
    module_name, text = COMMANDS[name]
    try:
        command = cast(_Command, importlib.import_module(module_name))
    except ImportError as exc:  # a subcommand not built in this version
        print(f"vipkeeper {name}: not available ({exc})", file=sys.stderr)
        return 4
    parser = argparse.ArgumentParser(prog=f"vipkeeper {name}", description=text)
    command.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return command.main(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
