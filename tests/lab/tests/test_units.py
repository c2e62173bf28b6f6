"""The lab's pure parts: names, address plan, inventory, rootfs cache key (no root needed)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import labhelpers  # noqa: F401  (puts tests/lab on sys.path)
import pytest
import yaml  # type: ignore[import-untyped]
from vklab import core, inventory, network, rootfs
from vklab.procs import Proc
from vklab.state import UP, LabState


def _state(index: int = 123, lbs: int = 2, client: bool = True) -> LabState:
    return LabState(
        name="demo",
        phase=UP,
        bridge=network.bridge_name("demo"),
        subnet_index=index,
        base="/var/cache/vipkeeper-lab/rootfs-x",
        creator=Proc(1, 1),
        hosts=core.plan_hosts("demo", index, lbs, client),
    )


def test_bridge_names_fit_and_differ() -> None:
    names = {network.bridge_name(f"lab{i}") for i in range(500)}
    assert len(names) == 500
    assert all(len(n) <= 15 and n.startswith("vkl") for n in names)


@pytest.mark.parametrize("name", ["demo", "t12345-1", "a", "molecule-default"])
def test_valid_names(name: str) -> None:
    core.validate_name(name)


@pytest.mark.parametrize("name", ["", "Demo", "1lab", "lab_1", "lab-", "x" * 40, "a b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(core.LabError, match="invalid lab name"):
        core.validate_name(name)


def test_plan_hosts_addresses() -> None:
    hosts = core.plan_hosts("demo", 123, 3, True)
    assert [(h.name, h.group, h.address) for h in hosts] == [
        ("demo-lb1", "lb", "10.213.123.11"),
        ("demo-lb2", "lb", "10.213.123.12"),
        ("demo-lb3", "lb", "10.213.123.13"),
        ("demo-client", "client", "10.213.123.50"),
    ]
    assert [h.name for h in core.plan_hosts("demo", 123, 1, False)] == ["demo-lb1"]
    with pytest.raises(core.LabError):
        core.plan_hosts("demo", 123, 0, True)


def test_pick_subnet_avoids_machine_networks_and_other_labs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    used = [ipaddress.IPv4Network("10.213.100.0/23"), ipaddress.IPv4Network("192.0.2.0/24")]
    monkeypatch.setattr(network, "networks_in_use", lambda: used)
    assert network.pick_subnet(taken={102}) == 103
    monkeypatch.setattr(network, "networks_in_use", lambda: [network.POOL])
    with pytest.raises(network.NetworkError, match="no free"):
        network.pick_subnet(taken=set())


def test_inventory_is_valid_yaml_with_groups_and_lab_facts() -> None:
    st = _state()
    inv = yaml.safe_load(inventory.render_inventory(st, Path("/x/id_ed25519")))
    v = inv["all"]["vars"]
    assert v["ansible_user"] == "root"
    assert v["ansible_ssh_private_key_file"] == "/x/id_ed25519"
    assert "StrictHostKeyChecking=no" in v["ansible_ssh_common_args"]
    assert "UserKnownHostsFile=/dev/null" in v["ansible_ssh_common_args"]
    assert v["ansible_python_interpreter"] == "/usr/bin/python3"
    assert v["lab_interface"] == "host0"
    assert v["lab_network"] == "10.213.123.0/24"
    assert v["lab_vip"] == "10.213.123.100/24"
    groups = inv["all"]["children"]
    assert groups["lb"]["hosts"]["demo-lb2"]["ansible_host"] == "10.213.123.12"
    assert list(groups["client"]["hosts"]) == ["demo-client"]
    used = {h.address for h in st.hosts} | {st.controller_address}
    assert not used & {vip.split("/")[0] for vip in v["lab_vips"]}


def test_inventory_without_client_keeps_an_empty_group() -> None:
    inv = yaml.safe_load(inventory.render_inventory(_state(client=False), Path("/k")))
    assert inv["all"]["children"]["client"]["hosts"] == {}


def test_hosts_file_names_every_host() -> None:
    text = inventory.render_hosts(_state())
    assert "10.213.123.11\tdemo-lb1" in text
    assert "10.213.123.50\tdemo-client" in text


def test_state_round_trips_through_json() -> None:
    st = _state()
    host = st.hosts[0].__class__(**{**st.hosts[0].__dict__, "nspawn": Proc(10, 20)})
    st = st.with_host(host)
    assert LabState.from_json(st.to_json()) == st
    assert [h.name for h in st.hosts] == ["demo-lb1", "demo-lb2", "demo-client"]


def test_rootfs_key_follows_packages_and_suite() -> None:
    k = rootfs.rootfs_key(["a", "b"], "bookworm", "http://m", None)
    assert k == rootfs.rootfs_key(["b", "a", "a"], "bookworm", "http://m", None)
    assert k != rootfs.rootfs_key(["a", "b", "c"], "bookworm", "http://m", None)
    assert k != rootfs.rootfs_key(["a", "b"], "trixie", "http://m", None)
    assert k != rootfs.rootfs_key(["a", "b"], "bookworm", "http://m", rootfs.configure_lab_host)


def _fake_debootstrap(calls: list[Path], fail: bool = False):  # type: ignore[no-untyped-def]
    def run(target: Path, *_args: object) -> None:
        calls.append(target)
        (target / "etc").mkdir(parents=True)
        (target / "etc/os-release").write_text("fake\n")
        if fail:
            raise rootfs.RootfsError("debootstrap failed (1)")

    return run


def test_ensure_rootfs_builds_once_and_renames_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(rootfs, "_debootstrap", _fake_debootstrap(calls))
    stale = tmp_path / ".build-0123456789ab-1"
    (stale / "var").mkdir(parents=True)
    first = rootfs.ensure_rootfs(
        ["pkg"], mirror="http://m", cache=tmp_path, configure=None, progress=lambda _: None
    )
    again = rootfs.ensure_rootfs(
        ["pkg"], mirror="http://m", cache=tmp_path, configure=None, progress=lambda _: None
    )
    assert (
        first
        == again
        == tmp_path / f"rootfs-{rootfs.rootfs_key(['pkg'], 'bookworm', 'http://m', None)}"
    )
    assert len(calls) == 1 and calls[0].name.startswith(".build-")
    assert (first / "etc/os-release").read_text() == "fake\n"
    assert not list(tmp_path.glob(".build-*"))  # the killed build's leftover is gone too


def test_failed_rootfs_build_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(rootfs, "_debootstrap", _fake_debootstrap(calls, fail=True))
    with pytest.raises(rootfs.RootfsError):
        rootfs.ensure_rootfs(
            ["pkg"], mirror="http://m", cache=tmp_path, configure=None, progress=lambda _: None
        )
    assert calls and not calls[0].exists()
    assert not list(tmp_path.glob("rootfs-*"))


def test_plan_hosts_gives_each_lb_its_release_in_turn() -> None:
    hosts = core.plan_hosts("demo", 123, 4, True, ("bookworm", "bullseye", "trixie"))
    assert [(h.name, h.release) for h in hosts] == [
        ("demo-lb1", "bookworm"),
        ("demo-lb2", "bullseye"),
        ("demo-lb3", "trixie"),
        ("demo-lb4", "bookworm"),
        ("demo-client", "bookworm"),
    ]
    assert {h.release for h in core.plan_hosts("demo", 123, 2, True)} == {"bookworm"}
    with pytest.raises(core.LabError, match="at least one"):
        core.plan_hosts("demo", 123, 2, True, ())


def test_inventory_and_state_carry_each_hosts_release() -> None:
    hosts = core.plan_hosts("demo", 123, 2, False, ("bullseye", "trixie"))
    st = _state(lbs=2, client=False)
    st = LabState(**{**st.__dict__, "hosts": hosts})
    inv = yaml.safe_load(inventory.render_inventory(st, Path("/k")))
    lbs = inv["all"]["children"]["lb"]["hosts"]
    assert {n: h["lab_release"] for n, h in lbs.items()} == {
        "demo-lb1": "bullseye",
        "demo-lb2": "trixie",
    }
    assert LabState.from_json(st.to_json()) == st
    # A state written before releases existed reads as bookworm hosts on the lab's base.
    old = st.to_json()
    for h in old["hosts"]:
        del h["release"], h["base"]
    assert {h.release for h in LabState.from_json(old).hosts} == {"bookworm"}


def test_releases_the_lab_knows_and_the_ones_it_refuses() -> None:
    assert {n: (r.version, r.python) for n, r in rootfs.RELEASES.items()} == {
        "bullseye": ("11", "3.9"),
        "bookworm": ("12", "3.11"),
        "trixie": ("13", "3.13"),
    }
    with pytest.raises(rootfs.RootfsError, match="boots bullseye, bookworm, trixie"):
        rootfs.check_release("buster")
    keys = {rootfs.rootfs_key(rootfs.LAB_PACKAGES, r, "http://m", None) for r in rootfs.RELEASES}
    assert len(keys) == 3  # one cached tree per release


def test_cli_parses_releases() -> None:
    import lab  # tests/lab/lab.py

    args = lab.parser().parse_args(["up", "x", "--releases", "bullseye,trixie"])
    assert args.releases == ["bullseye", "trixie"]
    assert lab.parser().parse_args(["up", "x"]).releases == ["bookworm"]
    assert lab.parser().parse_args(["rootfs", "--releases", "all"]).releases == list(
        rootfs.RELEASES
    )
    with pytest.raises(SystemExit):
        lab.parser().parse_args(["up", "x", "--releases", "bookworm,jessie"])
