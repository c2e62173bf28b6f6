#!/usr/bin/python3
"""HTTP probe of a VIP from a client: who answered, when, and how long nobody did (JSON on stdout).

vk-http-probe URL [--duration S] [--interval S] [--timeout S] [--settle N]

Each load balancer's page is its host name, so every answer tells who held the VIP. The probe
stops after --duration seconds, or earlier once a second responder has answered --settle times
in a row after the first responder (the takeover is over) - unless --settle is 0.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.error
import urllib.request


def probe(url: str, timeout: float) -> str | None:
    """One GET; the page's first line, or None when nobody answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return str(response.read(256).decode("utf-8", "replace").strip().splitlines()[0])
    except (OSError, urllib.error.URLError, IndexError):
        return None


def main() -> int:
    """Probe until done and print the summary."""
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--timeout", type=float, default=0.5)
    parser.add_argument("--settle", type=int, default=10)
    args = parser.parse_args()

    samples: list[tuple[float, str | None]] = []
    start = time.time()
    streak_host, streak = None, 0
    while time.time() - start < args.duration:
        sent = time.time()
        who = probe(args.url, args.timeout)
        samples.append((sent, who))
        streak, streak_host = (streak + 1, who) if who == streak_host else (1, who)
        first = next((w for _, w in samples if w is not None), None)
        if args.settle and who is not None and who != first and streak >= args.settle:
            break
        time.sleep(max(0.0, args.interval - (time.time() - sent)))

    # Runs of equal answers: [who, first sent, last sent, count].
    runs: list[list[object]] = []
    for sent, who in samples:
        if runs and runs[-1][0] == who:
            runs[-1][2] = sent
            runs[-1][3] = int(str(runs[-1][3])) + 1
        else:
            runs.append([who, sent, sent, 1])
    # The outage: from the first unanswered probe to the next answered one (longest such gap).
    outage, outage_from, outage_to = 0.0, None, None
    for i, (who, first_sent, _last, _n) in enumerate(runs):
        if who is None and i + 1 < len(runs):
            gap = float(str(runs[i + 1][1])) - float(str(first_sent))
            if gap > outage:
                outage, outage_from, outage_to = gap, first_sent, runs[i + 1][1]
    answered = [w for _, w in samples if w is not None]
    print(
        json.dumps(
            {
                "url": args.url,
                "started": start,
                "ended": time.time(),
                "probes": len(samples),
                "lost": sum(1 for _, w in samples if w is None),
                "first_responder": answered[0] if answered else None,
                "last_responder": answered[-1] if answered else None,
                "responders": sorted(set(answered)),
                "outage": round(outage, 3),
                "outage_from": outage_from,
                "outage_to": outage_to,
                "unanswered_at_end": bool(samples) and samples[-1][1] is None,
                "runs": [{"who": r[0], "from": r[1], "to": r[2], "count": r[3]} for r in runs],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
