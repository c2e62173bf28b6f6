"""vipkeeper and Debian's keepalived in one VRRP group: election, failover and fail-back both ways.

Each scenario runs twice: vipkeeper as master (priority 150) with keepalived as backup (100),
then the reverse. Every step is asserted on the VIP's real presence in each namespace and on
the state each side reports (vipkeeper's status JSON, keepalived's notify script):

1. election: only the master holds the VIP;
2. the master's link is cut: the backup takes the VIP within master_down_interval (+ slack);
3. the link heals: the higher priority keeps the VIP, the other releases it;
4. the master stops (SIGTERM, priority-0 advert): the backup takes over within the skew (+ slack);
5. the master comes back and preempts: the backup releases the VIP.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from daemon.vkd import Capture, Vipkeeper, config, instance_conf, start_vipkeeper, stays
from interop.kad import Keepalived, keepalived_in
from netlab import NetLab, Node, wait_for

from vipkeeper.vrrp.timing import master_down_interval, skew_time

pytestmark = [pytest.mark.netns, pytest.mark.keepalived, pytest.mark.timeout(180)]

# keepalived's own timing and a loaded 2-core machine: these tests prove interoperation, and
# the bounds stay tight enough that a side ignoring the other's adverts would fail them.
SLACK = 0.5
START = 3.0  # process start-up (Python import, keepalived fork) before the protocol clock runs
HIGH, LOW = 150, 100


@dataclass(frozen=True)
class Scenario:
    """One group setup shared by both implementations."""

    name: str
    version: int
    advert: float
    vip: str
    addrs: tuple[str, str]
    auth: str | None = None
    unicast: bool = False
    auth_type: str = "PASS"

    @property
    def vip_addr(self) -> str:
        """The VIP without its prefix length."""
        return self.vip.split("/", maxsplit=1)[0]

    def conf(self, me: int, priority: int, extra: str = "") -> str:
        """The keepalived.conf for node `me` (0 or 1); identical syntax for both daemons."""
        lines = [extra]
        if self.unicast:
            mine, peer = (a.split("/")[0] for a in (self.addrs[me], self.addrs[1 - me]))
            lines += [f"unicast_src_ip {mine}", f"unicast_peer {{\n    {peer}\n  }}"]
        inst = instance_conf(
            vrid=47,
            priority=priority,
            version=self.version,
            advert=self.advert,
            vips=(self.vip,),
            auth=self.auth,
            auth_type=self.auth_type,
            extra="\n  ".join(line for line in lines if line),
        )
        return config(inst)


SCENARIOS = [
    Scenario("v2-auth", 2, 1, "10.213.1.100/24", ("10.213.1.1/24", "10.213.1.2/24"), "s3cr3t"),
    Scenario("v3-ipv4", 3, 0.2, "10.213.1.100/24", ("10.213.1.1/24", "10.213.1.2/24")),
    Scenario("v3-ipv6", 3, 0.2, "fd13:213:1::100/64", ("fd13:213:1::1/64", "fd13:213:1::2/64")),
    Scenario(
        "unicast", 3, 0.2, "10.213.1.100/24", ("10.213.1.1/24", "10.213.1.2/24"), unicast=True
    ),
]


class Side:
    """One member of the group, whichever daemon runs it."""

    def __init__(self, lab: NetLab, node: Node, sc: Scenario, me: int, prio: int, kind: str):
        self.lab, self.node, self.sc, self.me, self.prio, self.kind = lab, node, sc, me, prio, kind
        self.vk: Vipkeeper | None = None
        self.ka: Keepalived | None = keepalived_in(lab, node) if kind == "keepalived" else None

    def start(self) -> None:
        """Start (or restart) this side's daemon."""
        if self.ka is not None:
            self.ka.start(self.sc.conf(self.me, self.prio, self.ka.notify_line))
        elif self.vk is None:
            self.vk = start_vipkeeper(self.lab, self.node, self.sc.conf(self.me, self.prio))
        else:
            self.vk.start()

    def state(self) -> str | None:
        """The state the daemon reports."""
        if self.ka is not None:
            return self.ka.state()
        assert self.vk is not None
        return self.vk.state()

    def wait_state(self, state: str, timeout: float) -> float | None:
        """Wait until the daemon reports `state`."""
        return wait_for(lambda: self.state() == state, timeout, 0.02)

    def terminate(self) -> None:
        """SIGTERM the daemon without waiting."""
        daemon = self.ka or self.vk
        assert daemon is not None and daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)

    def wait_exit(self) -> int:
        """Wait for the daemon to exit; its exit code."""
        daemon = self.ka or self.vk
        assert daemon is not None and daemon.proc is not None
        return daemon.proc.wait(10)

    def holds(self) -> bool:
        """Whether the VIP is on this node's interface."""
        return self.node.has_address(self.sc.vip)

    def log(self) -> str:
        """The daemon's log, for failure messages."""
        daemon = self.ka or self.vk
        return f"--- {self.kind} on {self.node.name}:\n" + (daemon.log()[-4000:] if daemon else "")


def _both(master: Side, backup: Side) -> str:
    return master.log() + "\n" + backup.log()


def _only(master: Side, backup: Side, who: Side) -> Callable[[], bool]:
    return lambda: [s for s in (master, backup) if s.holds()] == [who]


def hand_over_on_stop(master: Side, backup: Side, version: int, advert: float) -> None:
    """Graceful stop of the master: its priority-0 advert hands over within the skew."""
    bound = skew_time(version, LOW, advert) + SLACK
    master.terminate()
    took = wait_for(backup.holds, bound + 2, 0.005)
    assert took is not None, _both(master, backup)
    assert took <= bound, f"handover took {took:.3f}s, bound {bound:.3f}s"
    assert master.wait_exit() == 0, master.log()
    assert not master.holds(), "a stopped master releases the VIP"
    assert backup.wait_state("MASTER", 1) is not None, _both(master, backup)


def fail_back(master: Side, backup: Side, down_high: float, advert: float) -> None:
    """The master returns and preempts the lower-priority one, which yields and stays BACKUP."""
    master.start()
    assert wait_for(_only(master, backup, master), down_high + START) is not None, _both(
        master, backup
    )
    assert master.wait_state("MASTER", 1) is not None, _both(master, backup)
    assert backup.wait_state("BACKUP", 1) is not None, _both(master, backup)
    assert stays(_only(master, backup, master), 3 * advert), _both(master, backup)


@pytest.mark.parametrize("vk_role", ["vipkeeper-master", "keepalived-master"])
@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_mixed_group(lab: NetLab, sc: Scenario, vk_role: str) -> None:
    nodes = [lab.add_node(name, addrs=[sc.addrs[i]]) for i, name in enumerate(("a", "b"))]
    master_kind, backup_kind = ("vipkeeper", "keepalived")
    if vk_role == "keepalived-master":
        master_kind, backup_kind = backup_kind, master_kind
    master = Side(lab, nodes[0], sc, 0, HIGH, master_kind)
    backup = Side(lab, nodes[1], sc, 1, LOW, backup_kind)
    cap = Capture(nodes[1])
    backup.start()
    master.start()
    vk = (master if master.kind == "vipkeeper" else backup).vk
    assert vk is not None
    down_low = master_down_interval(sc.version, LOW, sc.advert)
    down_high = master_down_interval(sc.version, HIGH, sc.advert)

    # 1. Election: the higher priority wins, whichever daemon it runs.
    assert wait_for(_only(master, backup, master), down_low + START) is not None, _both(
        master, backup
    )
    assert master.wait_state("MASTER", 2) is not None, _both(master, backup)
    assert backup.wait_state("BACKUP", 2) is not None, _both(master, backup)
    assert stays(_only(master, backup, master), 3 * sc.advert), _both(master, backup)
    seen = time.time()
    time.sleep(2 * sc.advert + 0.1)
    adverts = [p for p in cap.since(seen, "vrrp") if p.vrid == 47]
    assert adverts, "the backup's node sees the master's adverts"
    assert {(p.prio, p.version) for p in adverts} == {(HIGH, sc.version)}
    if sc.unicast:
        peer = sc.addrs[1].split("/")[0]
        assert {p.dst for p in adverts} == {peer}, "unicast adverts go to the peer only"
    # vipkeeper understood every advert of keepalived, and keepalived accepted vipkeeper's
    # (otherwise keepalived, as backup, would have taken the VIP as well).
    assert vk.instance()["counters"]["drops"] == {}, vk.instance()["counters"]

    # 2. Failover: the master's link is cut silently; the backup takes over in time.
    master.node.cut()
    took = wait_for(backup.holds, down_low + SLACK + 2, 0.005)
    assert took is not None, _both(master, backup)
    assert took <= down_low + SLACK, f"failover took {took:.3f}s, bound {down_low + SLACK:.3f}s"
    assert backup.wait_state("MASTER", 1) is not None, _both(master, backup)
    assert master.holds(), "the cut master cannot know: it keeps the VIP"

    # 3. Heal: the higher priority keeps the VIP, the backup lets go of it.
    master.node.uncut()
    assert wait_for(_only(master, backup, master), 3 * sc.advert + 2) is not None, _both(
        master, backup
    )
    assert backup.wait_state("BACKUP", 1) is not None, _both(master, backup)
    assert master.state() == "MASTER"

    # 4. Graceful stop of the master: its priority-0 advert hands over within the skew.
    time.sleep(sc.advert)
    hand_over_on_stop(master, backup, sc.version, sc.advert)

    # 5. Fail-back: the master returns and preempts the lower-priority one.
    fail_back(master, backup, down_high, sc.advert)
    assert vk.instance()["counters"]["drops"] == {}, vk.instance()["counters"]
    cap.stop()
