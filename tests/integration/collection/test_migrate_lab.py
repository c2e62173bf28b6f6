"""From hand-written keepalived to vipkeeper and back, node by node, with a client probing every
VIP throughout (nspawn lab: lb1, lb2, lb3 and a client; one lab for the whole file).

The three hosts run Debian's keepalived with hand-written configs holding four clusters at once
(tests/unit/plugins/plugin_utils/labstyles.py, which the round-trip unit test also checks):
- an nginx-style pair (lb1, lb2): VRID 51, VRRPv2 with the password `oldpass1`, a vrrp_script;
- a 3-node unicast cluster (lb1, lb2, lb3): VRRPv3, unicast_src_ip and unicast_peer;
- a dual-stack sync group (lb2, lb3; lb2 is its master): an IPv4 and an IPv6 instance in a
  vrrp_sync_group, on the IPv6 addresses this test adds;
- an LVS DR pair with checkers (lb1, lb3): a virtual_server with HTTP_GET and TCP_CHECK real
  servers. This machine's kernel has no ip_vs, and keepalived's checker process exits (and stops
  keepalived) when it cannot initialise IPVS: the pair's keepalived runs with `--vrrp`
  (DAEMON_ARGS in /etc/default/keepalived), VRRP only, with the virtual_server config present.
  vipkeeper runs the virtual server on its nftables dataplane (docs/lvs.md). What this proves
  for LVS is that import, render and migration keep the virtual server's config equal: the
  runtime's structured dump (vipkeeper.config.dump) of each host's hand-written config and of
  the config the migration rendered are equal, with the round-trip unit test's canonical form.

`vipkeeper.vrrp.import` writes the inventory fragment, `vipkeeper.vrrp.migrate` moves every host
to vipkeeper, `vipkeeper.vrrp.migrate_rollback` moves them back to keepalived (the rendered
config), and `vipkeeper.vrrp.site` with `vipkeeper_daemon: vipkeeper` switches them once more (the
rolling daemon switch of site.yml). Each switch goes lb3 -> lb2 -> lb1: per cluster the backups
first and the master last (lb2 masters the dual-stack cluster, lb1 the other three). The client
pings every VIP (IPv4 and IPv6) every 0.1 s, and each VIP must lose no more than one handover's
worth of probes.

The adverts are captured (tcpdump on the masters, lb1 and lb2) under the hand-written keepalived
before the import, and again after each switch: under vipkeeper, under keepalived with the
rendered config, and under vipkeeper again. For every cluster, the adverts the master sends are
byte-identical in their VRRP payload (the checksum included) and in the IP header fields that
matter: TOS / traffic class, TTL / hop limit 255, protocol 112, the DF flag, source and
destination (for unicast, one advert per peer). The IPv4 identification field and the header
checksum, which covers it, are not compared: the kernel picks the identification per packet for
a raw socket without IP_HDRINCL, for either daemon (keepalived leaves it to the kernel for PASS
authentication and no authentication, as vipkeeper does), so it differs between any two adverts,
even of one daemon.

The figures are printed (`-s`) and reported in docs/migration.md. The lab (tests/lab/lab.py,
docs/lab.md) is unique to this run and always torn down.
"""

from __future__ import annotations

import base64
import importlib
import importlib.util
import ipaddress
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_rolling_lab import lab, losses, on

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def _labstyles() -> Any:
    """The hand-written configs, shared with the round-trip unit test (a plain file there)."""
    path = ROOT / "tests" / "unit" / "plugins" / "plugin_utils" / "labstyles.py"
    spec = importlib.util.spec_from_file_location("labstyles", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["labstyles"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


labstyles = _labstyles()

INTERVAL = 0.1  # client probe interval (s)
CAPTURE = 3.0  # seconds of capture on each master (at advert_int 1: 2 or 3 adverts per cluster)
CAPTURED = ("lb1", "lb2")  # the masters
ORDER = ["lb3", "lb2", "lb1"]  # lb3 backs up lb2's dual-stack cluster; lb1 masters the others
pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.keepalived]


def bound(cluster: Any) -> float:
    """One handover: the best backup's skew time (advert_int 1 s), plus a probe interval and
    1 s (gratuitous ARP / unsolicited NA, scheduling on a shared 2-core machine), as the drills."""
    return (256 - cluster.best_backup) / 256 * 1.0 + INTERVAL + 1.0


def parallel(hosts: list[str] | tuple[str, ...], job: Callable[[str], Any]) -> dict[str, Any]:
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        return dict(zip(hosts, pool.map(job, hosts)))


def lab_net(inventory: str) -> Any:
    inv = yaml.safe_load(Path(inventory).read_text())
    hosts = {
        name.rsplit("-", 1)[-1]: vars_["ansible_host"]
        for group in inv["all"]["children"].values()
        for name, vars_ in group["hosts"].items()
    }
    third = ipaddress.ip_network(inv["all"]["vars"]["lab_network"]).network_address.packed[2]
    prefix = f"fd6b:6b00:0:{third:x}::"  # a ULA /64 per lab network: unique among running labs
    vips = inv["all"]["vars"]["lab_vips"]
    return labstyles.LabNet(
        interface="host0",
        v4=hosts,
        v6={"lb2": f"{prefix}12", "lb3": f"{prefix}13", "client": f"{prefix}50"},
        vips={
            "nginx": vips[0],
            "unicast": vips[1],
            "dual4": vips[2],
            "dual6": f"{prefix}100/64",
            "lvs": vips[3],
        },
    )


def vip_of(site: dict[str, Any], cluster: Any) -> str:
    return str(site["net"].vips[cluster.vip].split("/")[0])


def wait_holders(site: dict[str, Any], timeout: float = 30) -> None:
    """Every cluster's VIP is on its master (preempt: lb1 and lb2 take theirs back)."""
    deadline = time.monotonic() + timeout
    for host in CAPTURED:
        want = {vip_of(site, c) for c in labstyles.CLUSTERS if c.master == host}
        while True:
            held = {w.split("/")[0] for w in on(site, host, "ip -br addr show host0").split()}
            if want <= held:
                break
            assert time.monotonic() < deadline, f"{host} never took {want - held}"
            time.sleep(0.5)


@dataclass(frozen=True)
class Advert:
    family: int
    tos: int  # TOS byte, or the IPv6 traffic class
    ttl: int  # TTL, or the hop limit
    proto: int  # protocol, or the IPv6 next header
    dont_fragment: bool  # IPv4 DF (False for IPv6)
    src: str
    dst: str
    payload: bytes  # the VRRP packet

    @property
    def vrid(self) -> int:
        return self.payload[1]


def adverts(pcap: bytes) -> list[tuple[Advert, int]]:
    """The VRRP adverts of a pcap file (Ethernet or Linux cooked), each with its IPv4 id."""
    endian = "<" if pcap[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    (linktype,) = struct.unpack(endian + "I", pcap[20:24])
    out = []
    offset = 24
    while offset + 16 <= len(pcap):
        _sec, _frac, incl, _orig = struct.unpack(endian + "IIII", pcap[offset : offset + 16])
        frame = pcap[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        if linktype == 1:  # Ethernet
            ethertype, l3 = frame[12:14], frame[14:]
        elif linktype == 113:  # Linux cooked v1
            ethertype, l3 = frame[14:16], frame[16:]
        else:
            raise AssertionError(f"unexpected pcap link type {linktype}")
        if ethertype == b"\x08\x00" and l3[9] == 112:
            ihl = (l3[0] & 0x0F) * 4
            (total,) = struct.unpack(">H", l3[2:4])
            (ident, flags) = struct.unpack(">HH", l3[4:8])
            advert = Advert(
                4,
                l3[1],
                l3[8],
                l3[9],
                bool(flags & 0x4000),
                str(ipaddress.IPv4Address(l3[12:16])),
                str(ipaddress.IPv4Address(l3[16:20])),
                l3[ihl:total],
            )
            out.append((advert, ident))
        elif ethertype == b"\x86\xdd" and l3[6] == 112:
            (plen,) = struct.unpack(">H", l3[4:6])
            advert = Advert(
                6,
                ((l3[0] & 0x0F) << 4) | (l3[1] >> 4),
                l3[7],
                l3[6],
                False,
                str(ipaddress.IPv6Address(l3[8:24])),
                str(ipaddress.IPv6Address(l3[24:40])),
                l3[40 : 40 + plen],
            )
            out.append((advert, 0))
    return out


def capture(site: dict[str, Any]) -> dict[str, list[tuple[Advert, int]]]:
    """CAPTURE seconds of VRRP on each master's host0 (both at once): what each one sent."""

    def one(host: str) -> list[tuple[Advert, int]]:
        pcap = f"/tmp/vrrp-{time.monotonic_ns()}.pcap"
        text = on(
            site,
            host,
            f"timeout -s INT {CAPTURE} tcpdump -q -U -i host0 -w {pcap} "
            f"'ip proto 112 or ip6 proto 112' 2>/dev/null; base64 -w0 {pcap}; rm -f {pcap}",
        )
        mine = site["own"][host]
        return [(a, i) for a, i in adverts(base64.b64decode(text)) if a.src in mine]

    return parallel(CAPTURED, one)


def sent_by_masters(
    site: dict[str, Any], captured: dict[str, list[tuple[Advert, int]]]
) -> dict[str, set[Advert]]:
    """Per cluster: the distinct adverts its master sent (one per destination in steady state)."""
    out = {}
    for c in labstyles.CLUSTERS:
        out[c.label] = {
            a for a, _ident in captured[c.master] if a.family == c.family and a.vrid == c.vrid
        }
    return out


def check_wire(site: dict[str, Any], what: str, captured: dict[str, Any]) -> None:
    """The masters' adverts are byte-identical to those of the hand-written keepalived."""
    before, now = site["wire"], sent_by_masters(site, captured)
    ids = sorted({i for h in CAPTURED for adv, i in captured[h] if adv.family == 4})
    print(f"\nadverts under {what}: IPv4 ids seen {ids[:6]}{'...' if len(ids) > 6 else ''}")
    for c in labstyles.CLUSTERS:
        got = now[c.label]
        print(
            f"  {c.label} (VRID {c.vrid}, v{c.version}, IPv{c.family}) from {c.master}: "
            + "; ".join(
                f"{a.src}->{a.dst} tos {a.tos:#04x} ttl {a.ttl} proto {a.proto} "
                f"DF {int(a.dont_fragment)} payload {a.payload.hex()}"
                for a in sorted(got, key=lambda a: a.dst)
            )
        )
        assert got == before[c.label], (c.label, before[c.label], got)


def dumps_equal(site: dict[str, Any], names: set[str]) -> None:
    """Each host's rendered config (/etc/vipkeeper/keepalived.conf) means what its hand-written
    one meant: the structured dumps are equal in the round-trip unit test's canonical form."""
    sys.path.insert(0, str(ROOT / "runtime" / "src"))
    sys.path.insert(0, str(site["work"] / "collections"))
    rt = importlib.import_module(
        "ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.test_import_roundtrip"
    )
    config = importlib.import_module("vipkeeper.config")
    rendered = parallel(
        labstyles.HOSTS, lambda h: on(site, h, "cat /etc/vipkeeper/keepalived.conf") + "\n"
    )
    for host in labstyles.HOSTS:
        models = []
        for text in (site["configs"][host], rendered[host]):
            result = config.load_text(text, config_id=host)
            assert not result.errors, (host, [d.message for d in result.errors])
            models.append(rt._canon(result.config, names))
        assert models[1] == models[0], (host, rt._differences(models[0], models[1]))
        if host in labstyles.LVS_HOSTS:
            (vs,) = models[1]["virtual_servers"]
            assert len(vs["real_servers"]) == 2, vs


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    name = f"vkmig-{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    coll = work / "collections" / "ansible_collections" / "vipkeeper"
    coll.mkdir(parents=True)
    (coll / "vrrp").symlink_to(ROOT)
    try:
        up = lab("up", name, "--lbs", "3", "--owner-pid", str(os.getpid()))
        assert up.returncode == 0, up.stdout + up.stderr
        inventory = up.stdout.strip().splitlines()[-1]
        net = lab_net(inventory)
        configs = labstyles.configs(net)
        state: dict[str, Any] = {
            "name": name,
            "work": work,
            "inventory": inventory,
            "net": net,
            "configs": configs,
        }

        def prepare(host: str) -> str:
            steps = []
            if host in net.v6:
                steps.append(f"ip -6 addr add {net.v6[host]}/64 dev host0 nodad")
            if host in labstyles.LVS_HOSTS:  # no ip_vs here: keepalived runs VRRP only
                steps.append("echo 'DAEMON_ARGS=\"--vrrp\"' > /etc/default/keepalived")
            if host in configs:
                steps.append(
                    f"cat > /etc/keepalived/keepalived.conf <<'EOF'\n{configs[host]}EOF\n"
                    "systemctl enable --now keepalived"
                )
            steps.append("ip -o addr show dev host0")
            return on(state, host, "\n".join(steps))

        shown = parallel([*labstyles.HOSTS, "client"], prepare)
        state["own"] = {
            h: {re.split(r"[/\s]", line.split()[3])[0] for line in shown[h].splitlines()}
            for h in CAPTURED
        }
        wait_holders(state)
        time.sleep(1)  # one more advert interval: every master sends its steady adverts
        state["wire"] = sent_by_masters(state, capture(state))
        for c in labstyles.CLUSTERS:
            assert state["wire"][c.label], f"no advert of {c.label} captured under keepalived"
        yield state
    finally:
        lab("down", name)
        subprocess.run(["rm", "-rf", str(work)], check=False)


def play(site: dict[str, Any], playbook: str, *inventories: Path) -> str:
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(site["work"] / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "1",  # one SSH exec per task, as molecule and the demo
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    # the play's hosts pattern is templated before the inventory's vars exist: an extra var
    argv = [str(BIN / "ansible-playbook"), playbook, "-i", site["inventory"]]
    argv += ["-e", "vipkeeper_hosts=lb", "-e", "vipkeeper_import_hosts=lb"]
    for extra in inventories:
        argv += ["-i", str(extra)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1500, check=False)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr
    return done.stdout


def imported_inventory(site: dict[str, Any], **extra: Any) -> Path:
    """An inventory file in the import directory: its group_vars and host_vars come along."""
    imported = site["work"] / "import"
    data = {
        "all": {
            "vars": {
                "vipkeeper_offline": True,
                "runtime_source": str(ROOT / "runtime"),
                "runtime_controller_wheelhouse": str(site["work"] / "wheels"),
                "vipkeeper_lock_file": str(imported / "vipkeeper-lock.yml"),
                **extra,
            }
        }
    }
    path = imported / "lab.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def daemons(site: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Per host (keepalived, vipkeeper): each `active/enabled`."""
    command = "; ".join(
        f"echo $(systemctl is-active {u})/$(systemctl is-enabled {u})"
        for u in ("keepalived", "vipkeeper")
    )

    def one(host: str) -> tuple[str, str]:
        done = lab("ssh", site["name"], host, command)
        keepalived, vipkeeper = done.stdout.split()
        return keepalived, vipkeeper

    return parallel(labstyles.HOSTS, one)


@dataclass
class Probed:
    out: str  # the play's output
    logs: dict[str, str]  # the client's ping log per cluster label
    wall: float  # the play's wall time
    captured: dict[str, list[tuple[Advert, int]]]  # the masters' adverts after the play


def probed(site: dict[str, Any], tag: str, action: Callable[[], str]) -> Probed:
    """Run `action()` while the client pings every VIP; then capture the masters' adverts
    (during the last seconds of probing, after every master holds its VIP again)."""
    pings = "\n".join(
        f"nohup ping -D -O -n -i {INTERVAL} {vip_of(site, c)} > /tmp/mig-{tag}-{c.label}.log"
        f" 2>&1 < /dev/null & echo $! >> /tmp/mig-{tag}.pids"
        for c in labstyles.CLUSTERS
    )
    on(site, "client", pings)
    time.sleep(2)
    began = time.monotonic()
    out = action()
    wall = time.monotonic() - began
    wait_holders(site)  # preempt: lb1 and lb2 are the masters again
    captured = capture(site)  # the client probes on meanwhile
    on(site, "client", f"kill -INT $(cat /tmp/mig-{tag}.pids)")
    time.sleep(0.5)
    text = on(
        site,
        "client",
        "; ".join(
            f"echo '=== {c.label}'; cat /tmp/mig-{tag}-{c.label}.log" for c in labstyles.CLUSTERS
        ),
    )
    logs = {
        part.split("\n", 1)[0].strip(): part.split("\n", 1)[1] for part in text.split("=== ")[1:]
    }
    return Probed(out, logs, wall, captured)


def order(out: str) -> list[str]:
    shown = re.search(r"rolling restart: ([^\"\n]+)", out)
    assert shown is not None, out[-4000:]
    return [w.strip().split("-")[-1] for w in shown[1].split("->")]


def check_switch(site: dict[str, Any], what: str, run: Probed) -> None:
    assert "daemon switch: " in run.out, run.out[-4000:]
    assert order(run.out) == ORDER, order(run.out)  # per cluster the backups first
    print(f"\n{what} of 3 nodes, order {' -> '.join(ORDER)}: play {run.wall:.1f}s")
    over = []
    for c in labstyles.CLUSTERS:
        sent, lost, windows = losses(run.logs[c.label])
        total = lost * INTERVAL
        print(
            f"  {c.label:8} {vip_of(site, c)}: {lost} of {sent} probes lost, windows {windows} "
            f"(total {total:.1f}s), bound {bound(c):.2f}s"
        )
        if total > bound(c):
            over.append((c.label, run.logs[c.label][-2000:]))
    assert not over, over
    check_wire(site, what, run.captured)


def test_import_then_migrate_then_roll_back(site: dict[str, Any]) -> None:
    work = site["work"]
    (work / "import-inv.yml").write_text(
        yaml.safe_dump({"all": {"vars": {"vipkeeper_import_dir": str(work / "import")}}})
    )
    play(site, "vipkeeper.vrrp.import", work / "import-inv.yml")
    imported = yaml.safe_load((work / "import/group_vars/all/vipkeeper_clusters.yml").read_text())
    clusters = {c["name"]: c for c in imported["vipkeeper_clusters"]}
    assert {n: c["vrid"] for n, c in clusters.items()} == {
        "VI_1": 51,
        "api": 7,
        "DB": 20,
        "LVS": 60,
    }
    assert len(clusters["DB"]["vips"]) == 2  # one dual-stack cluster
    assert len(clusters["LVS"]["virtual_servers"]) == 1
    report = yaml.safe_load((work / "import/import-report.yml").read_text())
    assert report["unsupported"] == []

    # forward: keepalived (hand-written) -> vipkeeper
    inventory = imported_inventory(site)
    run = probed(site, "fwd", lambda: play(site, "vipkeeper.vrrp.migrate", inventory))
    check_switch(site, "migrate keepalived -> vipkeeper", run)
    assert daemons(site) == dict.fromkeys(labstyles.HOSTS, ("inactive/disabled", "active/enabled"))

    def reloads(host: str) -> str:
        # the fresh daemon was never reloaded (a reload restarts its wait for the master)
        return on(
            site, host, "journalctl -u vipkeeper --no-pager -o cat | grep -c Reloading || true"
        )

    assert parallel(labstyles.HOSTS, reloads) == dict.fromkeys(labstyles.HOSTS, "0")
    dumps_equal(site, set(clusters))
    # without ip_vs, vipkeeper runs the virtual server on nftables
    vs = vip_of(site, labstyles.CLUSTERS[4])
    assert vs in on(site, "lb1", "nft list table inet vipkeeper")

    # again: nothing to switch, nothing lost
    again = play(site, "vipkeeper.vrrp.migrate", inventory)
    assert "rolling restart: nothing to restart" in again
    assert "daemon switch: " not in again

    # back: vipkeeper -> keepalived (the rendered config)
    run = probed(site, "back", lambda: play(site, "vipkeeper.vrrp.migrate_rollback", inventory))
    check_switch(site, "rollback vipkeeper -> keepalived", run)
    assert daemons(site) == dict.fromkeys(labstyles.HOSTS, ("active/enabled", "inactive/disabled"))
    assert "oldpass1" in on(site, "lb2", "cat /etc/keepalived/keepalived.conf")


def test_site_switches_daemons_one_member_at_a_time(site: dict[str, Any]) -> None:
    # after the rollback above: keepalived runs the rendered config; site.yml switches to vipkeeper
    inventory = imported_inventory(site, vipkeeper_daemon="vipkeeper")
    assert daemons(site)["lb1"][0] == "active/enabled"
    run = probed(site, "site", lambda: play(site, "vipkeeper.vrrp.site", inventory))
    check_switch(site, "site.yml switch keepalived -> vipkeeper", run)
    assert daemons(site) == dict.fromkeys(labstyles.HOSTS, ("inactive/disabled", "active/enabled"))
