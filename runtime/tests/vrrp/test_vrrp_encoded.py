"""Encoded adverts are kept per priority: the bytes always match a fresh encoding of the
instance's current settings, and a backup has its first advert encoded before it needs it."""

from __future__ import annotations

import dataclasses

import pytest
from vrrpkit import make_settings, of_type

from vipkeeper.vrrp import instance as instance_mod
from vipkeeper.vrrp.actions import Action, SendAdvert
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.packet import encode_advert
from vipkeeper.vrrp.settings import TrackScript
from vipkeeper.vrrp.state import State


def _fresh(inst: VrrpInstance, sent: SendAdvert) -> bytes:
    s = inst.settings
    advert = inst.build_advert(sent.priority)
    return encode_advert(advert, s.source, sent.dst, v3_checksum_as_v2=s.v3_checksum_as_v2)


def _check(inst: VrrpInstance, acts: list[Action]) -> list[SendAdvert]:
    sent = of_type(acts, SendAdvert)
    for a in sent:
        assert a.packet == _fresh(inst, a)
    return sent


@pytest.mark.parametrize("version", [2, 3])
def test_sent_adverts_match_a_fresh_encoding_through_changes(version: int) -> None:
    s = make_settings(
        version=version,
        track_scripts=(TrackScript("chk", weight=-30),),
        unicast_peers=(),
    )
    inst = VrrpInstance(s)
    inst.start(0.0)
    now = inst.get_timer()
    assert now is not None
    sent = _check(inst, inst.handle_timer(now))  # master down: becomes MASTER
    assert inst.state is State.MASTER and [a.priority for a in sent] == [100]
    now += s.advert_int
    assert _check(inst, inst.handle_timer(now))[0].priority == 100
    inst.set_script_result("chk", False, now)  # the weight takes 30 off
    now += s.advert_int
    assert _check(inst, inst.handle_timer(now))[0].priority == 70
    wider = dataclasses.replace(inst.settings, vips=(*s.vips, instance_mod.ip("10.213.100.2")))
    acts = inst.reconfigure(wider, now)  # a new VIP list is advertised at once
    now += s.advert_int
    acts += inst.handle_timer(now)
    sent = _check(inst, acts)
    assert sent and all(len(inst.build_advert(a.priority).addresses) == 2 for a in sent)
    assert [a.priority for a in _check(inst, inst.stop(now))] == [0]


def test_a_backup_takes_over_without_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = VrrpInstance(make_settings())
    inst.start(0.0)
    assert inst.state is State.BACKUP
    calls: list[object] = []
    real = instance_mod.encode_advert

    def counting(*args: object, **kw: object) -> bytes:
        calls.append(args)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(instance_mod, "encode_advert", counting)
    at = inst.get_timer()
    assert at is not None
    sent = of_type(inst.handle_timer(at), SendAdvert)
    assert inst.state is State.MASTER and len(sent) == 1
    assert calls == []  # encoded on entering BACKUP
