# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The drill report as a picture: one timeline per cluster, in plain SVG (no dependency).

Read from the drill's JSON report (roles/drill/templates/record.json.j2), times in Unix seconds,
drawn in seconds from the fault: the client's probes (answered, lost), which host holds the VIP
(the old master until the fault, the new master from the VIP's creation, the final holder after
the restore), and marks for the fault, the new master's transition to MASTER, the VIP's move and
the restore. A refused drill draws its probes and says it was refused.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

WIDTH = 1000
LEFT = 150  # the lanes' names
RIGHT = 20
FINAL = 90  # the column right of the time axis: who holds the VIP at the final check
PLOT_END = WIDTH - RIGHT - FINAL
LANE = 26  # a lane's height
GAP = 8
FONT = "font-family='DejaVu Sans, Arial, Helvetica, sans-serif'"

OK = "#3a9d4f"
LOST = "#d62728"
HOLD = "#1f77b4"
HOLD_AFTER = "#7fb2dc"
FAULT = "#d62728"
RESTORE = "#2ca02c"
MASTER = "#ff7f0e"
GRID = "#dddddd"
TEXT = "#222222"


def _num(value):
    """A number of the record, or None (absent, null or not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _short(host):
    """A host's name as the lanes show it: the inventory name."""
    return str(host) if host is not None else "?"


def _fmt(seconds):
    """Seconds as the report writes them (one decimal), or '-'."""
    return "-" if seconds is None else f"{seconds:.1f} s"


def _span(cluster):
    """The cluster's time range (Unix seconds) and its origin (the fault, else the first probe)."""
    times = []
    for run in cluster.get("client_timeline") or []:
        times += [_num(run.get("from")), _num(run.get("to"))]
    after = cluster.get("client_after_restore") or {}
    for window in after.get("windows") or []:
        times += [_num(window.get("start")), _num(window.get("end"))]
    for key in ("injected_at", "restored_at", "became_master_at", "vip_added_at"):
        times.append(_num(cluster.get(key)))
    times = [t for t in times if t is not None]
    if not times:
        return None
    start, end = min(times), max(times)
    step = _num(cluster.get("probe_interval")) or 0.0
    end += step
    restored = _num(cluster.get("restored_at"))
    if restored is not None:
        end = max(end, restored + 1.0)  # room for the holder after the restore
    if end - start < 1.0:
        end = start + 1.0
    origin = _num(cluster.get("injected_at"))
    return start, end, origin if origin is not None else start


def _ticks(start, end, origin):
    """Axis ticks (seconds from the origin): a step of 1, 2, 5, 10... giving at most 12 ticks."""
    length = end - start
    step = 1.0
    for candidate in (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600):
        step = float(candidate)
        if length / step <= 12:
            break
    first = int((start - origin) // step) * step
    ticks = []
    value = first
    while value <= end - origin + 1e-9:
        if value >= start - origin - 1e-9:
            ticks.append(value)
        value += step
    return ticks


class _Canvas:
    """SVG elements of one picture."""

    def __init__(self):
        self.items = []

    def rect(self, x, y, w, h, fill, *, title=None, cls=None):
        tip = f"<title>{escape(title)}</title>" if title else ""
        extra = f" class={quoteattr(cls)}" if cls else ""
        self.items.append(
            f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(w, 1.0):.1f}' height='{h:.1f}' "
            f"fill='{fill}'{extra}>{tip}</rect>"
        )

    def line(self, x1, y1, x2, y2, stroke, *, width=1.0, dash=None, cls=None):
        more = f" stroke-dasharray='{dash}'" if dash else ""
        more += f" class={quoteattr(cls)}" if cls else ""
        self.items.append(
            f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' stroke='{stroke}' "
            f"stroke-width='{width}'{more}/>"
        )

    def text(self, x, y, text, *, size=12, anchor="start", fill=TEXT, weight="normal", cls=None):
        more = f" class={quoteattr(cls)}" if cls else ""
        self.items.append(
            f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' text-anchor='{anchor}' "
            f"fill='{fill}' font-weight='{weight}' {FONT}{more}>{escape(str(text))}</text>"
        )


def _headline(cluster):
    """The panel's two lines: the verdict and who, then the figures."""
    verdict = str(cluster.get("verdict") or "?").upper()
    name = cluster.get("cluster", "?")
    if cluster.get("injected_at") is None:
        problems = "; ".join(str(p) for p in cluster.get("problems") or [])
        return f"cluster {name}: {verdict} - no fault injected", problems
    lost, sent = cluster.get("lost_probes"), cluster.get("probes_sent")
    return (
        f"cluster {name}: {verdict} - {cluster.get('fault')} on "
        f"{_short(cluster.get('old_master'))}, new master {_short(cluster.get('new_master'))}",
        f"detection {_fmt(_num(cluster.get('detection_seconds')))}, VIP moved "
        f"{_fmt(_num(cluster.get('vip_moved_seconds')))}, client outage "
        f"{_fmt(_num(cluster.get('client_outage_seconds')))} ({lost} of {sent} "
        f"{cluster.get('probe_mode') or ''} probes lost), final holder "
        f"{_short(cluster.get('final_holder'))}",
    )


def _cluster(canvas, cluster, top):
    """Draw one cluster's panel from `top`; its height."""
    y = top
    head, figures = _headline(cluster)
    colour = TEXT if cluster.get("verdict") == "pass" else LOST
    canvas.text(10, y + 16, head, size=14, weight="bold", fill=colour, cls="headline")
    canvas.text(10, y + 34, figures[:160], size=12, cls="figures")
    y += 44
    span = _span(cluster)
    if span is None:
        canvas.text(10, y + 14, "no probe result and no event to draw", cls="empty")
        return y + 24 - top
    start, end, origin = span
    scale = (PLOT_END - LEFT) / (end - start)

    def x_of(t):
        return min(max(LEFT + (t - start) * scale, LEFT), PLOT_END)

    hosts = [str(h) for h in cluster.get("hosts") or []]
    for extra in (
        cluster.get("old_master"),
        cluster.get("new_master"),
        cluster.get("final_holder"),
    ):
        if extra is not None and str(extra) not in hosts:
            hosts.append(str(extra))
    mode = cluster.get("probe_mode")
    lanes = [f"client ({mode})" if mode else "client"] + [f"VIP on {h}" for h in hosts]
    lanes_top = y + 12 + 13 * 4  # room for the marks' labels (up to four rows)
    lanes_bottom = lanes_top + len(lanes) * (LANE + GAP)

    # grid and axis (seconds from the fault)
    for tick in _ticks(start, end, origin):
        x = x_of(origin + tick)
        canvas.line(x, lanes_top - 4, x, lanes_bottom, GRID)
        label = f"{tick:+g} s" if tick else "0"
        canvas.text(x, lanes_bottom + 14, label, size=11, anchor="middle", cls="tick")
    axis = "seconds from the fault" if cluster.get("injected_at") is not None else "seconds"
    canvas.text(LEFT + (PLOT_END - LEFT) / 2, lanes_bottom + 30, axis, size=11,
                anchor="middle")  # fmt: skip

    for index, lane in enumerate(lanes):
        lane_y = lanes_top + index * (LANE + GAP)
        canvas.text(LEFT - 8, lane_y + LANE / 2 + 4, lane, anchor="end", cls="lane")
        canvas.rect(LEFT, lane_y, PLOT_END - LEFT, LANE, "#f4f4f4")
        canvas.rect(PLOT_END + 10, lane_y, FINAL - 10, LANE, "#f4f4f4")
    canvas.text(PLOT_END + 10 + (FINAL - 10) / 2, lanes_top - 8, "final check", size=11,
                anchor="middle", weight="bold")  # fmt: skip

    # the client's probes: runs of answered (green) and lost (red) probes
    step = _num(cluster.get("probe_interval")) or 0.0
    runs = list(cluster.get("client_timeline") or [])
    after = cluster.get("client_after_restore") or {}
    for window in after.get("windows") or []:
        begin, stop = _num(window.get("start")), _num(window.get("end"))
        if begin is not None:
            runs.append({"state": "lost", "from": begin, "to": stop if stop is not None else end,
                         "count": window.get("lost")})  # fmt: skip
    for run in runs:
        begin, stop = _num(run.get("from")), _num(run.get("to"))
        if begin is None or stop is None:
            continue
        state = run.get("state")
        fill = LOST if state == "lost" else OK
        x = x_of(begin)
        title = f"{run.get('count')} probes {'lost' if state == 'lost' else 'answered'}"
        width = x_of(stop + step) - x
        canvas.rect(x, lanes_top + 3, width, LANE - 6, fill, title=title,
                    cls="probe-lost" if state == "lost" else "probe-ok")  # fmt: skip
        if state == "lost" and width > 60:
            lost_for = f"{stop + step - begin:.1f} s lost"
            canvas.text(x + width / 2, lanes_top + LANE / 2 + 4, lost_for, size=11,
                        anchor="middle", fill="white", weight="bold")  # fmt: skip

    # who holds the VIP
    fault_at = _num(cluster.get("injected_at"))
    restored_at = _num(cluster.get("restored_at"))
    added_at = _num(cluster.get("vip_added_at"))
    old, new = cluster.get("old_master"), cluster.get("new_master")
    final = cluster.get("final_holder")
    handback = restored_at
    to_restore = _num(after.get("to_restore"))
    if restored_at is not None and to_restore is not None:
        handback = restored_at + to_restore  # the client reached the VIP again there

    def hold(host, begin, stop, fill, title):
        if host is None or begin is None or stop is None or stop <= begin:
            return
        lane_y = lanes_top + (1 + hosts.index(str(host))) * (LANE + GAP)
        canvas.rect(x_of(begin), lane_y + 3, x_of(stop) - x_of(begin), LANE - 6, fill,
                    title=title, cls="holder")  # fmt: skip

    if fault_at is None:
        holder = old if old is not None else final
        hold(holder, start, end, HOLD, f"{_short(holder)} holds the VIP (no fault injected)")
    else:
        hold(old, start, fault_at, HOLD, f"{_short(old)} holds the VIP until the fault")
        # after the fault the record does not say when the old master dropped the VIP (a killed
        # daemon leaves it until its restart removes it): hatched up to the VIP's move
        if old is not None and old != new and added_at is not None and added_at > fault_at:
            lane_y = lanes_top + (1 + hosts.index(str(old))) * (LANE + GAP)
            canvas.rect(x_of(fault_at), lane_y + 3, x_of(added_at) - x_of(fault_at), LANE - 6,
                        "url(#unknown)", cls="unknown",
                        title=f"{_short(old)} may still hold the VIP (not recorded)")  # fmt: skip
        new_until = end
        if final is not None and final != new and handback is not None:
            new_until = handback
        # (a kill needs no restore - systemd restarts the daemon: when it took the VIP back is
        # not in the record, and the final check column shows the holder at the end)
        hold(new, added_at, new_until, HOLD, f"{_short(new)} holds the VIP (added by the kernel)")
        if final is not None and final != new and handback is not None:
            hold(
                final, handback, end, HOLD_AFTER, f"{_short(final)} holds the VIP after the restore"
            )
    if final is not None and str(final) in hosts:
        lane_y = lanes_top + (1 + hosts.index(str(final))) * (LANE + GAP)
        expected = cluster.get("final_expected")
        fill = HOLD if expected in (None, final) else LOST
        canvas.rect(PLOT_END + 10, lane_y + 3, FINAL - 10, LANE - 6, fill, cls="final",
                    title=f"{_short(final)} holds the VIP at the end")  # fmt: skip
        canvas.text(PLOT_END + 10 + (FINAL - 10) / 2, lane_y + LANE / 2 + 4, "holds it", size=11,
                    anchor="middle", fill="white", weight="bold")  # fmt: skip

    # marks: fault, MASTER, VIP moved, restore
    marks = [
        (fault_at, FAULT, "3,3", f"fault: {cluster.get('fault')}", "mark-fault"),
        (_num(cluster.get("became_master_at")), MASTER, None,
         f"{_short(new)} MASTER", "mark-master"),
        (added_at, HOLD, None, "VIP moved", "mark-vip"),
        (restored_at, RESTORE, "3,3", "restore", "mark-restore"),
    ]  # fmt: skip
    placed = []  # (row, left, right) of the labels drawn
    for at, colour, dash, label, cls in marks:
        if at is None:
            continue
        x = x_of(at)
        canvas.line(x, lanes_top - 6, x, lanes_bottom - GAP, colour, width=2, dash=dash, cls=cls)
        width = 7.0 * len(label)
        left = x + width + 4 > PLOT_END
        lo, hi = (x - 4 - width, x - 2) if left else (x + 2, x + 4 + width)
        # the first row (from the lanes up) where it overlaps no other label
        row = next(
            r for r in range(len(marks) + 1)
            if all(r != pr or hi < pl or lo > ph for pr, pl, ph in placed)
        )  # fmt: skip
        placed.append((row, lo, hi))
        canvas.text(x - 4 if left else x + 4, lanes_top - 8 - row * 13, label, size=11,
                    anchor="end" if left else "start", fill=colour, weight="bold",
                    cls=cls + "-label")  # fmt: skip
    return lanes_bottom + 40 - top


def _legend(canvas, top):
    """The colours, then the marks, on one row; its height."""
    x = 10.0
    for fill, label in (
        (OK, "probe answered"),
        (LOST, "probe lost"),
        (HOLD, "holds the VIP"),
        (HOLD_AFTER, "holds it after the restore"),
        ("url(#unknown)", "not recorded"),
    ):
        canvas.rect(x, top, 14, 12, fill)
        canvas.text(x + 18, top + 11, label, size=11)
        x += 30 + 6.2 * len(label)
    marks = (
        (FAULT, "3,3", "fault"),
        (MASTER, None, "new MASTER"),
        (HOLD, None, "VIP moved"),
        (RESTORE, "3,3", "restore"),
    )
    for colour, dash, label in marks:
        canvas.line(x, top, x, top + 12, colour, width=2, dash=dash)
        canvas.text(x + 5, top + 11, label, size=11)
        x += 22 + 6.2 * len(label)
    return 24


def svg(report):
    """The drill report (its JSON, as a dict) as an SVG document (text)."""
    canvas = _Canvas()
    started = report.get("started_at", "?")
    title = f"vipkeeper failover drill {started} - fault {report.get('fault', '?')}"
    canvas.text(10, 22, title, size=16, weight="bold", cls="title")
    slo = _num(report.get("slo_seconds"))
    if slo is not None:
        canvas.text(WIDTH - RIGHT, 22, f"SLO: client outage at most {slo:g} s", size=12,
                    anchor="end")  # fmt: skip
    y = 36.0
    clusters = report.get("clusters") or []
    if not clusters:
        canvas.text(10, y + 20, "no cluster was drilled", cls="empty")
        y += 30
    for cluster in clusters:
        y += _cluster(canvas, cluster, y) + 10
    y += _legend(canvas, y)
    height = int(y + 10)
    body = "\n".join(canvas.items)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' "
        f"viewBox='0 0 {WIDTH} {height}'>\n"
        f"<title>{escape(title)}</title>\n"
        "<defs><pattern id='unknown' width='8' height='8' patternUnits='userSpaceOnUse' "
        "patternTransform='rotate(45)'><rect width='8' height='8' fill='#e8eef5'/>"
        f"<line x1='0' y1='0' x2='0' y2='8' stroke='{HOLD_AFTER}' stroke-width='3'/>"
        "</pattern></defs>\n"
        f"<rect x='0' y='0' width='{WIDTH}' height='{height}' fill='white'/>\n"
        f"{body}\n</svg>\n"
    )
