"""Logging for `vipkeeper run`: `TIME LEVEL message` on a terminal, sd-daemon lines under journald.

When systemd connects stderr to the journal it says so in JOURNAL_STREAM ("DEV:INODE" of the
stream); the variable is inherited, so it only counts while fd 2 is still that stream
(sd_journal_stream_fd(3), systemd.exec(5)). Then every line starts with the syslog priority
in angle brackets (`<3>` error, `<4>` warning, `<6>` info, `<7>` debug, `<2>` critical), which
journald strips and stores as PRIORITY, so `journalctl -p err -u vipkeeper` works. The
journal stamps each line itself: no timestamp of ours. Every line of a multi-line message (a
traceback) carries the prefix, since journald reads each line as a record of its own.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

LOG_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
JOURNAL_FORMAT = "%(levelname)s %(message)s"

# sd-daemon(3) / syslog(3) priorities, from the most severe down.
PRIORITIES = (
    (logging.CRITICAL, 2),  # LOG_CRIT
    (logging.ERROR, 3),  # LOG_ERR
    (logging.WARNING, 4),  # LOG_WARNING
    (logging.INFO, 6),  # LOG_INFO
)
DEBUG_PRIORITY = 7  # LOG_DEBUG


def priority(levelno: int) -> int:
    """The syslog priority of a logging level (a level between two takes the lower one's)."""
    for level, prio in PRIORITIES:
        if levelno >= level:
            return prio
    return DEBUG_PRIORITY


def under_journald(fd: int = 2, environ: Mapping[str, str] | None = None) -> bool:
    """Whether `fd` is the journal stream systemd named in JOURNAL_STREAM."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep:
        return False
    try:
        want = (int(dev), int(ino))
        st = os.fstat(fd)
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == want


class JournalFormatter(logging.Formatter):
    """`<PRIO>LEVEL message`, the prefix on every line of the record."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The record's text with its priority prefix on each line."""
        prefix = f"<{priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def make_formatter(journal: bool) -> logging.Formatter:
    """The journald formatter, or today's `TIME LEVEL message` one."""
    if journal:
        return JournalFormatter()
    return logging.Formatter(LOG_FORMAT, datefmt=DATE_FORMAT)


def setup_logging(level: str, stream: TextIO | None = None) -> None:
    """Log to stderr (or `stream`) at `level`, in the format that suits where it goes."""
    out = sys.stderr if stream is None else stream
    try:
        journal = under_journald(out.fileno())
    except (AttributeError, ValueError, OSError):  # a stream with no file descriptor
        journal = False
    handler = logging.StreamHandler(out)
    handler.setFormatter(make_formatter(journal))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("pyroute2").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.WARNING)
