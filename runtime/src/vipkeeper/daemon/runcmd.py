"""`vipkeeper run -f FILE`: the foreground daemon (systemd Type=notify)."""

from __future__ import annotations

import argparse
import logging
import os

from vipkeeper._aiocompat import run_with_loop
from vipkeeper.daemon.daemon import Daemon, Options
from vipkeeper.daemon.dumps import DEFAULT_DIR
from vipkeeper.daemon.evloop import new_event_loop
from vipkeeper.daemon.logsetup import setup_logging
from vipkeeper.daemon.reload import blocking_errors

METRICS_ENV = "VIPKEEPER_METRICS"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the run options."""
    parser.add_argument(
        "-f",
        "--use-file",
        dest="file",
        default="/etc/keepalived/keepalived.conf",
        help="keepalived.conf to run (default: %(default)s)",
    )
    parser.add_argument(
        "-i",
        "--config-id",
        default=None,
        help="config id for @ID lines (default: the host name up to its first dot)",
    )
    parser.add_argument(
        "--control-socket",
        default="/run/vipkeeper/control.sock",
        help="control socket path (default: %(default)s)",
    )
    parser.add_argument(
        "--state-dir",
        default="/run/vipkeeper",
        help="where the VIP record lives (default: %(default)s)",
    )
    parser.add_argument(
        "--dump-dir",
        default=DEFAULT_DIR,
        help="where the SIGUSR1/SIGUSR2/JSON dumps go, as root-only files; a directory"
        " others may write needs the sticky bit, as /tmp (default: %(default)s)",
    )
    parser.add_argument(
        "--metrics",
        default=os.environ.get(METRICS_ENV),
        metavar="[ADDR:]PORT",
        help=f"serve Prometheus metrics here (or ${METRICS_ENV}); without ADDR on"
        " 127.0.0.1 only: give 0.0.0.0:PORT, [::]:PORT or an address to expose them",
    )
    parser.add_argument(
        "--notify-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="kill a notify script still running after this (default: %(default)s)",
    )
    parser.add_argument(
        "--proc-events-netns",
        default="/proc/1/ns/net",
        metavar="PATH",
        help="track_process: the network namespace whose process-events connector to use when"
        " the daemon runs in another one (the connector exists only in the initial one;"
        " default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level",
    )


def _setup_logging(level: str) -> None:
    setup_logging(level)  # sd-daemon priority prefixes when stderr is the journal


def main(args: argparse.Namespace) -> int:
    """Load the config, then run until SIGTERM; the exit code."""
    from vipkeeper.config import load
    from vipkeeper.config.diagnostics import exit_code

    _setup_logging(args.log_level)
    log = logging.getLogger("vipkeeper")
    if os.geteuid() != 0:
        log.warning("not running as root: raw sockets and address changes will fail")
    result = load(args.file, args.config_id)
    errors = blocking_errors(result.diagnostics)
    for diag in result.diagnostics:
        log.log(logging.ERROR if diag in errors else logging.WARNING, "%s", diag.format())
    code = exit_code(errors)
    config = result.config
    if code != 0 or config is None:
        log.error("%s: the config has errors; not starting", args.file)
        return code or 4
    options = Options(
        config_file=args.file,
        config_id=args.config_id,
        control_socket=args.control_socket,
        state_dir=args.state_dir,
        dump_dir=args.dump_dir,
        metrics=args.metrics,
        notify_timeout=args.notify_timeout,
        proc_events_netns=args.proc_events_netns,
    )

    loop, selector = new_event_loop()

    async def _run() -> int:
        daemon = Daemon(options, config, woke=lambda: selector.woke)
        return await daemon.run()

    try:
        return run_with_loop(loop, _run())
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        log.error("fatal: %s", exc)
        return 1
    except Exception as exc:  # no traceback for the user; the VIPs were released on the way out
        log.error("fatal internal error: %r", exc)
        return 1
