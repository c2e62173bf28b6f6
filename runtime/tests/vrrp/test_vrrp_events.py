"""The core's event notifies: a reload's deletion (DELETED or FAULT), a lower-priority master
heard, a priority change, and the SMTP alert actions, as keepalived's vrrp_notify.c sends them."""

from __future__ import annotations

import dataclasses

from vrrpkit import ip, make_settings, mcast, of_type, peer_advert

from vipkeeper.vrrp.actions import RunNotify, SendAlert, WriteNotifyFifo
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import Notify
from vipkeeper.vrrp.state import State

NOTIFY = Notify(
    fault=("/n", "fault"),
    deleted=("/n", "deleted"),
    generic=("/all",),
    fifo=True,
    master_rx_lower_pri=("/n", "rx-lower"),
    smtp_alert=True,
)


def master(notify: Notify) -> VrrpInstance:
    inst = VrrpInstance(make_settings(name="VI_1", priority=150, notify=notify))
    inst.start(0.0)
    inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert inst.state is State.MASTER
    return inst


def test_deleted_with_notify_deleted() -> None:
    inst = master(_with(True))
    acts = inst.delete(5.0)
    assert inst.state is State.STOP
    assert of_type(acts, RunNotify) == [
        RunNotify("VI_1", "deleted", ("/n", "deleted")),
        RunNotify("VI_1", "generic", ("/all", "INSTANCE", "VI_1", "DELETED", "150")),
    ]
    assert of_type(acts, WriteNotifyFifo) == [
        WriteNotifyFifo("VI_1", 'INSTANCE "VI_1" DELETED 150')
    ]
    assert of_type(acts, SendAlert) == [SendAlert("VI_1", "DELETED")]


def test_deleted_without_notify_deleted_is_a_fault() -> None:
    acts = master(_with(False)).delete(5.0)
    assert [a.kind for a in of_type(acts, RunNotify)] == ["fault", "generic"]
    assert of_type(acts, RunNotify)[1].argv[-2:] == ("FAULT", "150")
    assert of_type(acts, SendAlert) == [SendAlert("VI_1", "FAULT")]


def test_deleted_in_fault_without_notify_deleted_says_nothing() -> None:
    inst = master(_with(False))
    inst.set_io_fault("test", 1.0)
    assert inst.state is State.FAULT
    acts = inst.delete(5.0)
    assert not of_type(acts, RunNotify) and not of_type(acts, SendAlert)
    assert not of_type(acts, WriteNotifyFifo)


def test_no_email_faults() -> None:
    inst = master(Notify(smtp_alert=True, smtp_faults=False))
    acts = inst.set_io_fault("test", 1.0)
    assert inst.state is State.FAULT and not of_type(acts, SendAlert)
    assert of_type(inst.stop(2.0), SendAlert) == [SendAlert("VI_1", "STOP")]


def test_master_rx_lower_pri() -> None:
    inst = master(_with(False))
    data = peer_advert(inst.settings, 100, "10.213.0.99")
    acts = inst.receive_advert(data, ip("10.213.0.99"), mcast(inst.settings), 255, 3.0)
    assert of_type(acts, RunNotify) == [
        RunNotify("VI_1", "master_rx_lower_pri", ("/n", "rx-lower"))
    ]
    assert of_type(acts, WriteNotifyFifo) == [
        WriteNotifyFifo("VI_1", 'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150')
    ]
    assert inst.state is State.MASTER


def _with(send_deleted: bool) -> Notify:
    return dataclasses.replace(NOTIFY, send_deleted=send_deleted)
