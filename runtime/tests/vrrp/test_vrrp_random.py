"""Random event sequences: never an illegal transition, and one master once adverts flow again."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from vrrpkit import FakeLink, ip, make_settings

from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import TrackScript
from vipkeeper.vrrp.state import State


@dataclass(frozen=True)
class Event:
    """One disturbance: ``kind`` applied to node ``i`` (and ``j``) after ``dt`` seconds."""

    dt: float
    kind: str
    i: int
    j: int
    flag: bool


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[VrrpInstance], list[Event], float]:
    n = draw(st.integers(2, 3))
    version = draw(st.sampled_from([2, 3]))
    nodes = []
    for k in range(n):
        prio = draw(st.one_of(st.integers(1, 254), st.just(100), st.just(255)))
        adv = draw(st.sampled_from([0.5, 1.0, 2.0])) if version == 3 else 1.0
        nodes.append(
            VrrpInstance(
                make_settings(
                    name=f"n{k}",
                    priority=prio,
                    source=f"10.213.0.{k + 1}",
                    version=version,
                    advert_int=adv,
                    nopreempt=prio != 255 and draw(st.booleans()),
                    preempt_delay=draw(st.sampled_from([0.0, 0.0, 2.5])),
                    lower_prio_no_advert=draw(st.booleans()),
                    split_brain_parting_advert=draw(st.booleans()),
                    track_scripts=(TrackScript("w", weight=draw(st.sampled_from([0, -50, 30]))),),
                )
            )
        )
    kinds = ["partition", "heal", "lossy", "track", "stop", "start", "demote", "jump", "wait",
             "reload"]  # fmt: skip
    events = draw(
        st.lists(
            st.builds(
                Event,
                dt=st.floats(0.0, 6.0),
                kind=st.sampled_from(kinds),
                i=st.integers(0, n - 1),
                j=st.integers(0, n - 1),
                flag=st.booleans(),
            ),
            max_size=25,
        )
    )
    delay = draw(st.sampled_from([0.0005, 0.01, 0.2]))
    return nodes, events, delay


def apply(link: FakeLink, ev: Event) -> None:
    a, b = link.nodes[ev.i], link.nodes[ev.j]
    if ev.kind == "partition" and a is not b:
        link.partition(a, b)
    elif ev.kind == "heal":
        link.heal()
    elif ev.kind == "lossy":
        counter = iter(range(10**9))
        link.drop = (lambda _s, _d, _a: next(counter) % 2 == 0) if ev.flag else (lambda *_: False)
    elif ev.kind == "track" and a.state is not State.STOP:
        link.call(a, "set_script_result", "w", ev.flag)
    elif ev.kind == "stop" and a.state is not State.STOP:
        link.call(a, "stop")
    elif ev.kind == "start" and a.state is State.STOP:
        link.call(a, "start")
    elif ev.kind == "demote" and a.state is State.MASTER:
        link.call(a, "demote", 5.0)
    elif ev.kind == "reload" and a.state is not State.STOP:
        # a reload with another priority or VIP list, taken over in place
        new = dataclasses.replace(a.settings, priority=(40, 100, 200, 254)[int(ev.dt) % 4])
        if ev.flag:
            extra = () if new.excluded_vips else (ip("10.213.9.9"),)
            new = dataclasses.replace(new, excluded_vips=extra)
        link.call(a, "reconfigure", new)
    elif ev.kind == "jump":
        link.now += 20.0  # the process was suspended: everything due is handled late


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
@example(  # a loser's parting advert with a shorter interval once made two backups take turns
    (
        [
            VrrpInstance(make_settings(name=f"n{k}", priority=p, source=f"10.213.0.{k + 1}",
                                       version=3, advert_int=adv, lower_prio_no_advert=lpna,
                                       split_brain_parting_advert=not lpna,
                                       track_scripts=(TrackScript("w", weight=0),)))
            for k, (p, adv, lpna) in enumerate([(100, 0.5, False), (100, 0.5, False),
                                                (255, 2.0, True)])
        ],
        [Event(1.0, "partition", 0, 0, False), Event(0.0, "jump", 0, 0, False)],
        0.0005,
    )
)  # fmt: skip
@example(  # two owners at a short interval took turns behind a third, higher-addressed owner
    (
        [
            VrrpInstance(make_settings(name=f"n{k}", priority=255, source=f"10.213.0.{k + 1}",
                                       version=3, advert_int=adv, lower_prio_no_advert=lpna,
                                       split_brain_parting_advert=not lpna,
                                       track_scripts=(TrackScript("w", weight=0),)))
            for k, (adv, lpna) in enumerate([(0.5, False), (0.5, False), (2.0, True)])
        ],
        [],
        0.0005,
    )
)  # fmt: skip
def test_random_events_end_with_one_master(
    case: tuple[list[VrrpInstance], list[Event], float],
) -> None:
    nodes, events, delay = case
    for x in nodes:
        s = x.settings
        note(
            f"{s.name} prio={s.priority} v{s.version} adv={s.advert_int} nopreempt={s.nopreempt}"
            f" delay={s.preempt_delay} lpna={s.lower_prio_no_advert}"
            f" parting={s.split_brain_parting_advert} weight={s.track_scripts[0].weight}"
        )
    link = FakeLink(nodes, delay)
    link.start_all()
    for ev in events:
        link.run_until(link.now + ev.dt)
        apply(link, ev)  # an illegal transition would raise LocalProtocolError here
    # adverts flow again: no partition, no loss, trackers healthy, everyone running
    link.heal()
    link.drop = lambda *_: False
    for node in nodes:
        if node.state is State.STOP:
            link.call(node, "start")
        link.call(node, "set_script_result", "w", True)
    link.run_until(link.now + 60.0)
    link.max_masters_seen = 0
    link.run_until(link.now + 30.0)
    assert len(link.masters()) == 1
    assert link.max_masters_seen == 1
    # with preemption the master has the highest priority (an equal-priority backup accepts a
    # master: the address tie-break only settles master against master)
    winner = link.masters()[0]
    note(
        f"winner {winner.name}, changes {[(t, c.instance, c.new.value) for t, c in link.changes()]}"
    )
    if not any(x.settings.nopreempt for x in nodes):
        assert winner.priority == max(x.priority for x in nodes)
