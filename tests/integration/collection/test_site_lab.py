"""`ansible-playbook vipkeeper.vrrp.site` on two Debian 12 hosts of the nspawn lab (offline,
SSH as root): check mode on fresh hosts, deploy, idempotence, reload (never restart) on a
config change with stable VRIDs, and a bad inventory failing before anything changes.

The lab (tests/lab/lab.py, docs/lab.md) is unique to this run and always torn down.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "tests" / "lab" / "lab.py"
BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.netns, pytest.mark.slow]
API = {"name": "api", "hosts": "{{ groups['lb'] | reverse | list }}", "interface": "host0",
       "vips": ["{{ lab_vips[1] }}"]}  # fmt: skip


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAB), *args], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    name = f"vkc-{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    # The runtime role builds the runtime from <collection>/runtime: use this checkout as is.
    coll = work / "collections" / "ansible_collections" / "vipkeeper"
    coll.mkdir(parents=True)
    (coll / "vrrp").symlink_to(ROOT)
    try:
        up = lab("up", name, "--lbs", "2", "--no-client", "--owner-pid", str(os.getpid()))
        assert up.returncode == 0, up.stdout + up.stderr
        yield {"name": name, "work": work, "inventory": up.stdout.strip().splitlines()[-1]}
    finally:
        lab("down", name)
        subprocess.run(["rm", "-rf", str(work)], check=False)


def clusters(
    site: dict[str, Any],
    extra: list[dict[str, Any]] | None = None,
    web: dict[str, Any] | None = None,
    more_vars: dict[str, Any] | None = None,
    tag: str = "",
) -> Path:
    data = {
        "all": {
            "vars": {
                **(more_vars or {}),
                "vipkeeper_offline": True,
                # a wheelhouse of this run: the hosts get the runtime of this checkout
                "runtime_controller_wheelhouse": str(site["work"] / "wheels"),
                "vipkeeper_hosts": "lb",
                "vipkeeper_lock_file": str(site["work"] / "lock.yml"),
                "vipkeeper_secrets": {"web": "labsecret"},
                "vipkeeper_clusters": [
                    {
                        "name": "web",
                        "hosts": "{{ groups['lb'] }}",
                        "interface": "host0",
                        "vips": ["{{ lab_vips[0] }}"],
                        "track": [
                            {"name": "sshd", "script": "/usr/bin/pgrep -x sshd", "weight": -30}
                        ],
                        **(web or {}),
                    },
                    *(extra or []),
                ],
            }
        }
    }
    path = site["work"] / f"clusters-{len(extra or [])}{tag}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def play(site: dict[str, Any], vars_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(site["work"] / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "1",  # one SSH exec per task, as molecule and the demo
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    argv = [
        str(BIN / "ansible-playbook"),
        "vipkeeper.vrrp.site",
        "-i",
        site["inventory"],
        "-i",
        str(vars_file),
    ]
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, env=env, timeout=900, check=False
    )


def changed(output: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


def on(site: dict[str, Any], host: str, command: str) -> str:
    done = lab("ssh", site["name"], host, command)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_site_deploys_idempotently_and_reloads_without_restart(site: dict[str, Any]) -> None:
    vars1 = clusters(site)
    check = play(site, vars1, "--check", "--diff")
    assert check.returncode == 0, check.stdout[-4000:] + check.stderr
    assert "+  virtual_router_id" in check.stdout
    assert "inactive" in lab("ssh", site["name"], "lb1", "systemctl is-active vipkeeper").stdout

    first = play(site, vars1)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr
    vip = yaml.safe_load(Path(site["inventory"]).read_text())["all"]["vars"]["lab_vips"][0]
    # site.yml returns converged (roles/vrrp/tasks/converge.yml): lb1 holds the VIP already.
    assert "Wait until this host holds what the plan gives it" in first.stdout
    assert vip in on(site, "lb1", "ip -br addr show host0")
    assert vip not in on(site, "lb2", "ip -br addr show host0")
    unit = on(site, "lb1", "systemctl show vipkeeper -p Type -p WatchdogUSec -p ActiveState")
    assert "Type=notify" in unit
    assert "WatchdogUSec=10s" in unit
    assert "ActiveState=active" in unit
    assert "0640" in on(site, "lb1", "stat -c %a /etc/vipkeeper/keepalived.conf").replace(
        "640", "0640"
    )

    for extra in ((), ("--check",)):
        again = play(site, vars1, *extra)
        assert again.returncode == 0, again.stdout[-4000:]
        assert set(changed(again.stdout).values()) == {0}, again.stdout[-4000:]

    lock_before = yaml.safe_load((site["work"] / "lock.yml").read_text())
    pids = {h: on(site, h, "systemctl show vipkeeper -p MainPID") for h in ("lb1", "lb2")}
    vars2 = clusters(site, [API])
    second = play(site, vars2)
    assert second.returncode == 0, second.stdout[-4000:]
    assert "RUNNING HANDLER [vipkeeper.vrrp.vrrp : Reload the VRRP daemon]" in second.stdout
    for host in ("lb1", "lb2"):
        assert on(site, host, "systemctl show vipkeeper -p MainPID") == pids[host]  # reload only
        assert "NRestarts=0" in on(site, host, "systemctl show vipkeeper -p NRestarts")
    lock_after = yaml.safe_load((site["work"] / "lock.yml").read_text())
    assert lock_after["web"] == lock_before["web"]
    assert "api" in lock_after


def test_site_fails_naming_a_cluster_that_does_not_converge(site: dict[str, Any]) -> None:
    # lb1, the expected holder of `stuck` (the highest priority), is held in FAULT by its tracker.
    stuck = {"name": "stuck", "hosts": "{{ groups['lb'] }}", "interface": "host0",
             "vips": ["{{ lab_vips[3] }}"],
             "track": [{"name": "flag", "script": "/usr/bin/test ! -e /run/vkt-stuck",
                        "weight": 0}]}  # fmt: skip
    on(site, "lb1", "touch /run/vkt-stuck")
    try:
        began = time.monotonic()
        failed = play(site, clusters(site, [stuck], tag="-stuck"))
        spent = time.monotonic() - began
    finally:
        on(site, "lb1", "rm -f /run/vkt-stuck")
    assert failed.returncode != 0
    # the bound: 4 x advert_int (1 s) + preempt_delay (0) + the slack (5 s)
    named = (r"not converged: cluster stuck: \S*lb1\s+did not hold \S+ \(instance \S+\)"
             r"\s+within 9.0s \(timeout\)")  # fmt: skip
    assert re.search(named, failed.stdout), failed.stdout[-4000:]
    assert "cluster web" not in failed.stdout.split("not converged:", 1)[1].split("\n", 1)[0]
    print(f"\nsite.yml with a cluster that cannot converge failed after {spent:.1f}s")
    ok = play(site, clusters(site), "-e", "vipkeeper_wait_converged=false")
    assert ok.returncode == 0, ok.stdout[-4000:]
    assert "Wait until this host holds" not in ok.stdout


def test_bad_inventory_fails_before_any_host_changes(site: dict[str, Any]) -> None:
    before = on(site, "lb1", "sha1sum /etc/vipkeeper/keepalived.conf")
    ghost = {"name": "bad", "hosts": ["ghost", "{{ groups['lb'][0] }}"], "interface": "host0",
             "vips": ["{{ lab_vips[2] }}"]}  # fmt: skip
    failed = play(site, clusters(site, [ghost]))
    assert failed.returncode != 0
    assert "cluster bad: unknown host ghost (not in the inventory)" in failed.stdout
    assert "TASK [vipkeeper.vrrp.runtime" not in failed.stdout
    assert on(site, "lb1", "sha1sum /etc/vipkeeper/keepalived.conf") == before


NOTIFY = """#!/bin/sh
echo "$1 $(id -un) $(id -gn) $(id -Gn | wc -w)" >> /var/lib/vkt/notify.log
logger -t vkt-notify "$1 as $(id -un)"
"""


def wait_until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def journal(site: dict[str, Any], host: str, *args: str) -> list[dict[str, Any]]:
    """The daemon's own journal records (not ExecStartPre's), as `journalctl -o json` gives."""
    pid = on(site, host, "systemctl show -p MainPID --value vipkeeper").strip()
    out = on(site, host, f"journalctl -q -o json _SYSTEMD_UNIT=vipkeeper.service _PID={pid} "
                         + " ".join(args))  # fmt: skip
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_hardened_unit_runs_notify_as_another_user_and_logs_priorities(
    site: dict[str, Any],
) -> None:
    """Under the role's sandbox (#17): VRRP works, a notify script runs as nobody, vips.json is
    root-only, and the journal has each line's priority (`journalctl -p err` works)."""
    props = on(
        site,
        "lb1",
        "systemctl show vipkeeper -p ActiveState -p UMask -p MemoryDenyWriteExecute"
        " -p PrivateDevices -p SystemCallFilter -p SystemCallErrorNumber",
    )
    assert "ActiveState=active" in props
    assert "UMask=0077" in props
    assert "MemoryDenyWriteExecute=yes" in props
    assert "PrivateDevices=yes" in props
    assert re.search(r"^SystemCallFilter=.*\bsetresuid\b", props, re.M), props  # an allow list
    assert not re.search(r"^SystemCallFilter=.*\bmount\b", props, re.M), props
    assert on(site, "lb1", "stat -c %a /run/vipkeeper/vips.json").strip() == "600"

    encoded = base64.b64encode(NOTIFY.encode()).decode()
    for host in ("lb1", "lb2"):
        on(site, host, f"echo {encoded} | base64 -d > /usr/local/bin/vkt-notify"
                       " && chmod 0755 /usr/local/bin/vkt-notify"
                       " && install -d -o nobody -g nogroup /var/lib/vkt")  # fmt: skip
    hook = "/usr/local/bin/vkt-notify"
    notify = {"notify": {"master": f"{hook} master", "backup": f"{hook} backup"}}
    nobody = {"vrrp_global_defs": {"script_user": "nobody"}}
    vars3 = clusters(site, [API], web=notify, more_vars=nobody, tag="-notify")
    third = play(site, vars3)
    assert third.returncode == 0, third.stdout[-4000:]
    assert "script_user nobody" in on(site, "lb2", "cat /etc/vipkeeper/keepalived.conf")

    vip = yaml.safe_load(Path(site["inventory"]).read_text())["all"]["vars"]["lab_vips"][0]
    pid_lb1 = on(site, "lb1", "systemctl show -p MainPID --value vipkeeper").strip()
    since = on(site, "lb1", "date '+%Y-%m-%d %H:%M:%S'").strip()
    on(site, "lb1", "systemctl stop vipkeeper")  # lb2 takes web over: notify_master as nobody
    assert wait_until(lambda: vip in on(site, "lb2", "ip -br addr show host0"), 15)
    log = "cat /var/lib/vkt/notify.log 2>/dev/null || true"
    assert wait_until(lambda: "master" in on(site, "lb2", log), 15), on(site, "lb2", log)
    assert on(site, "lb2", log).splitlines()[0] == "master nobody nogroup 1"
    assert "master as nobody" in on(site, "lb2", "journalctl -q -o cat -t vkt-notify")

    on(site, "lb1", "systemctl start vipkeeper")  # lb1 preempts: notify_backup on lb2
    assert wait_until(lambda: vip in on(site, "lb1", "ip -br addr show host0"), 20)
    assert wait_until(lambda: "backup" in on(site, "lb2", log), 15), on(site, "lb2", log)
    assert on(site, "lb2", log).splitlines()[-1] == "backup nobody nogroup 1"

    # The journal: each record has the priority its level says, and no timestamp of ours.
    records = journal(site, "lb1", f"--since '{since}'")
    assert records, "no journal records for the restarted daemon"
    assert on(site, "lb1", "systemctl show -p MainPID --value vipkeeper").strip() != pid_lb1
    texts = {r["MESSAGE"]: r["PRIORITY"] for r in records if isinstance(r.get("MESSAGE"), str)}
    master = [m for m in texts if "-> MASTER" in m]
    assert master, texts
    assert all(texts[m] == "6" and m.startswith("INFO (") for m in master), texts
    assert not [m for m in texts if re.match(r"<\d>|\d{4}-\d\d-\d\d ", m)], texts

    # A broken file sent with SIGHUP: `journalctl -p err` finds the reload failure.
    conf = "/etc/vipkeeper/keepalived.conf"
    on(site, "lb1", f"cp -p {conf} /root/conf.good && echo 'vrrp_instance {{' >> {conf}"
                    " && kill -HUP $(systemctl show -p MainPID --value vipkeeper)")  # fmt: skip
    try:
        assert wait_until(
            lambda: any("reload failed" in r["MESSAGE"] for r in journal(site, "lb1", "-p err")),
            15,
        ), journal(site, "lb1", "-p err")
        errors = journal(site, "lb1", "-p err")
        assert {r["PRIORITY"] for r in errors} == {"3"}
        assert not [r for r in errors if "-> MASTER" in r["MESSAGE"]]  # info stays out
    finally:
        on(site, "lb1", f"cp -p /root/conf.good {conf}")
    assert "ActiveState=active" in on(site, "lb1", "systemctl show vipkeeper -p ActiveState")


SCRAPE = (
    'python3 -c "import urllib.request as u; '
    "print(u.urlopen('http://127.0.0.1:9650/metrics', timeout=10).read().decode())\""
)


def test_vipkeeper_metrics_installs_the_extra_offline_and_serves_metrics(
    site: dict[str, Any],
) -> None:
    # Offline hosts (vipkeeper_offline): prometheus-client must come from the wheelhouse.
    on_vars = clusters(site, more_vars={"vipkeeper_metrics": {"enabled": True}}, tag="-metrics")
    first = play(site, on_vars)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr
    assert any(p.name.startswith("prometheus_client-") for p in (site["work"] / "wheels").iterdir())
    vip = yaml.safe_load(Path(site["inventory"]).read_text())["all"]["vars"]["lab_vips"][0]
    for host in ("lb1", "lb2"):
        assert "prometheus_client-" in on(site, host, "ls /var/cache/vipkeeper/wheelhouse")
        unit = on(site, host, "systemctl show vipkeeper -p ExecStart -p ActiveState")
        assert "--metrics 127.0.0.1:9650" in unit and "ActiveState=active" in unit, unit
        deadline = time.monotonic() + 30
        while True:  # a daemon that was running restarts (rolling) and needs a moment
            done = lab("ssh", site["name"], host, SCRAPE)
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert done.returncode == 0, done.stdout + done.stderr
        text = done.stdout
        assert "vipkeeper_up 1.0" in text, text[:2000]
        state = "MASTER" if host == "lb1" else "BACKUP"
        states = [line for line in text.splitlines() if line.startswith("vipkeeper_vrrp_state{")]
        assert any(f'state="{state}"' in line and line.endswith("} 1.0") for line in states), (
            f"{host}: no {state} instance in\n" + "\n".join(states)
        )
        held = "1.0" if host == "lb1" else "0.0"
        assert re.search(
            r'^vipkeeper_vip_held\{[^}]*vip="' + re.escape(vip) + r'[^"]*"[^}]*\} ' + held + "$",
            text,
            re.M,
        ), f"{host}: vipkeeper_vip_held of {vip} is not {held} in\n{text[:3000]}"
    # the loopback only by default: not on the host's lab address
    assert "127.0.0.1:9650" in on(site, "lb1", "ss -Hltn 'sport = :9650'")
    again = play(site, on_vars)
    assert again.returncode == 0, again.stdout[-4000:]
    assert set(changed(again.stdout).values()) == {0}, again.stdout[-4000:]
