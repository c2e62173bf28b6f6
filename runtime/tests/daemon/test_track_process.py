"""track_process: a tracked process started and stopped moves the instance, through the
kernel's process events (no /proc polling), in a namespace.

Each test tracks a `sleep` with an argument unique to the run (param_match), so no other
process on the machine counts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from daemon.vkd import VIP, Vipkeeper, config, instance_conf, start_vipkeeper, stays
from interop.kad import keepalived_in
from netlab import NetLab, wait_for

pytestmark = pytest.mark.netns
BOUND = 1.0  # seconds from the process event to the instance's change (an advert is 0.1 s)


def _tag() -> str:
    """A sleep argument no other process has: 1000000 seconds and a unique fraction."""
    return f"1000000.{uuid.uuid4().int % 10**9:09d}"


def _block(tag: str, extra: str = "") -> str:
    return f"""
vrrp_track_process proc {{
  process /usr/bin/sleep {tag}
  param_match partial
  {extra}
}}
"""


class Sleeper:
    """`/usr/bin/sleep TAG` processes started outside the lab (any namespace counts)."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> float:
        """Start one more; the time just before it starts."""
        at = time.monotonic()
        self.procs.append(subprocess.Popen(["/usr/bin/sleep", self.tag]))
        return at

    def stop_one(self) -> float:
        """Kill the last one; the time just before the kill (the exit event comes after)."""
        proc = self.procs.pop()
        at = time.monotonic()
        proc.kill()
        proc.wait()
        return at

    def close(self) -> None:
        while self.procs:
            self.stop_one()


@pytest.fixture
def sleeper() -> Iterator[Sleeper]:
    s = Sleeper(_tag())
    try:
        yield s
    finally:
        s.close()


def _start(lab: NetLab, conf: str) -> Vipkeeper:
    """The daemon in a lab node, subscribed to the process events in this test's namespace
    (the initial one, where the connector is: pid 1's may not be readable in a container)."""
    node = lab.add_node("a", addrs=["10.213.1.1/24"])
    return start_vipkeeper(lab, node, conf, "--proc-events-netns", f"/proc/{os.getpid()}/ns/net")


def test_weight_zero_faults_without_the_process(lab: NetLab, sleeper: Sleeper) -> None:
    inst = instance_conf(priority=150, version=3, advert=0.1, extra="track_process {\n  proc\n}")
    vk = _start(lab, config(inst, head=_block(sleeper.tag)))
    assert vk.wait_state("FAULT", 5) is not None, vk.log()
    at = sleeper.start()
    assert vk.wait_state("MASTER", BOUND + 0.5) is not None, vk.log()  # a lone node: MASTER
    assert time.monotonic() - at < BOUND + 0.5
    at = sleeper.stop_one()
    assert vk.wait_state("FAULT", BOUND) is not None, vk.log()
    assert time.monotonic() - at < BOUND
    assert "Quorum lost for tracked process proc" in vk.log()
    assert "did not acknowledge" not in vk.log() and "cannot follow" not in vk.log()
    status = vk.status()["track_processes"]["proc"]
    assert status == {"processes": 0, "quorum": False}


def test_weight_and_quorum_move_the_priority(lab: NetLab, sleeper: Sleeper) -> None:
    sleeper.start()  # counted by the /proc scan at start-up
    block = _block(sleeper.tag, "quorum 2\n  weight 20")
    inst = instance_conf(priority=100, version=3, advert=0.1, extra="track_process {\n  proc\n}")
    vk = _start(lab, config(inst, head=block))
    assert vk.wait_state("MASTER", 5) is not None, vk.log()
    assert vk.instance()["effective_priority"] == 100  # one process: below the quorum of 2
    sleeper.start()
    assert wait_for(lambda: vk.instance()["effective_priority"] == 120, BOUND) is not None
    sleeper.stop_one()
    assert wait_for(lambda: vk.instance()["effective_priority"] == 100, BOUND) is not None
    assert vk.status()["track_processes"]["proc"] == {"processes": 1, "quorum": False}


def test_reverse_and_terminate_delay(lab: NetLab, sleeper: Sleeper) -> None:
    block = _block(sleeper.tag, "terminate_delay 1.5")
    track = "track_process {\n  proc weight -30 reverse\n}"
    inst = instance_conf(priority=100, version=3, advert=0.1, extra=track)
    vk = _start(lab, config(inst, head=block))
    assert vk.wait_state("MASTER", 5) is not None, vk.log()
    # weight -30 reverse: +30 while the quorum is lost (keepalived: weight x -1 while down)
    assert vk.instance()["effective_priority"] == 130
    sleeper.start()
    assert wait_for(lambda: vk.instance()["effective_priority"] == 100, BOUND) is not None
    at = sleeper.stop_one()
    assert stays(lambda: vk.instance()["effective_priority"] == 100, 1.2), "terminate_delay"
    assert wait_for(lambda: vk.instance()["effective_priority"] == 130, 1.5) is not None
    assert time.monotonic() - at >= 1.5


@pytest.mark.keepalived
def test_keepalived_peer_takes_over_while_the_process_is_gone(
    lab: NetLab, sleeper: Sleeper
) -> None:
    """vipkeeper (150, FAULT without its process) and keepalived (100) on one link: the VIP
    moves to keepalived when the process exits and back when it starts again."""
    sleeper.start()
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    ka = keepalived_in(lab, b)
    ka.start(config(instance_conf(priority=100, version=3, advert=0.1, extra=ka.notify_line)))
    track = "track_process {\n  proc\n}"
    inst = instance_conf(priority=150, version=3, advert=0.1, extra=track)
    netns = f"/proc/{os.getpid()}/ns/net"
    vk = start_vipkeeper(
        lab, a, config(inst, head=_block(sleeper.tag)), "--proc-events-netns", netns
    )
    assert vk.wait_state("MASTER", 5) is not None, vk.log()
    assert ka.wait_state("BACKUP", 3) is not None, ka.log()
    sleeper.stop_one()
    assert vk.wait_state("FAULT", BOUND) is not None, vk.log()
    assert ka.wait_state("MASTER", 2) is not None, ka.log()  # master down: 3 x 0.1 s + skew
    assert wait_for(lambda: b.has_address(VIP), 2) is not None
    sleeper.start()
    assert vk.wait_state("MASTER", BOUND + 1) is not None, vk.log()  # preempts at 150
    assert ka.wait_state("BACKUP", 2) is not None, ka.log()
    moved = wait_for(lambda: a.has_address(VIP) and not b.has_address(VIP), 2)
    assert moved is not None


def test_reload_counts_again(lab: NetLab, sleeper: Sleeper) -> None:
    """A reload that changes the block applies the new quorum to the running instance, and
    the events still move it afterwards."""
    sleeper.start()
    inst = instance_conf(priority=150, version=3, advert=0.1, extra="track_process {\n  proc\n}")
    vk = _start(lab, config(inst, head=_block(sleeper.tag)))
    assert vk.wait_state("MASTER", 5) is not None, vk.log()
    vk.write_config(config(inst, head=_block(sleeper.tag, "quorum 2")))
    vk.signal(signal.SIGHUP)
    assert vk.wait_state("FAULT", 5) is not None, vk.log()
    sleeper.start()
    assert vk.wait_state("MASTER", BOUND + 0.5) is not None, vk.log()
