"""The vrrp_plan and vrrp_hosts filters over plain hostvars."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vipkeeper.vrrp.plugins.filter.vrrp_hosts import FilterModule as Hosts
from ansible_collections.vipkeeper.vrrp.plugins.filter.vrrp_plan import FilterModule as Plan
from ansible_collections.vipkeeper.vrrp.plugins.filter.vrrp_redact import FilterModule as Redact
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hostvars

vrrp_plan = Plan().filters()["vrrp_plan"]
vrrp_hosts = Hosts().filters()["vrrp_hosts"]
vrrp_redact = Redact().filters()["vrrp_redact"]

HOSTVARS = {
    "lb1": hostvars("lb1", {"eth0": ("10.213.5.11/24", None)}),
    "lb2": hostvars("lb2", {"eth0": ("10.213.5.12/24", None)}),
    "new": {"inventory_hostname": "new"},  # in the inventory, facts not gathered
}
WEB = {
    "name": "web",
    "hosts": ["lb1", {"name": "lb2"}],
    "interface": "eth0",
    "vips": ["10.213.5.100/24"],
}


def test_plan_is_redacted_by_default_and_has_a_lock() -> None:
    result = vrrp_plan([WEB], HOSTVARS, secrets={"web": "s"})
    inst = result["clusters"]["web"]["instances"][0]
    assert inst["auth_pass"] == "********"
    assert inst["mcast_group"] == "224.0.0.18"
    assert result["lock"] == {"web": {"ipv4": {"vrid": inst["vrid"]}}}
    clear = vrrp_plan([WEB], HOSTVARS, secrets={"web": "s"}, redact=False)
    assert len(clear["clusters"]["web"]["instances"][0]["auth_pass"]) == 8


def test_redacting_the_clear_plan_gives_the_redacted_plan() -> None:
    # the vrrp role plans once (redact=false) and derives the public copy with vrrp_redact
    clusters = [WEB, {**WEB, "name": "db", "vips": ["10.213.5.101/24"]}]
    for settings in ({"secret": "site"}, {}):  # db: the site's secret, then none
        clear = vrrp_plan(clusters, HOSTVARS, settings=settings, secrets={"web": "s"}, redact=False)
        public = vrrp_plan(clusters, HOSTVARS, settings=settings, secrets={"web": "s"})
        assert vrrp_redact(clear) == public
        passwords = {n: c["instances"][0]["auth_pass"] for n, c in clear["clusters"].items()}
        assert len(passwords["web"]) == 8 and passwords["web"] != "********"
        assert (passwords["db"] is None) == (settings == {})
        # the clear plan is left as it was
        again = vrrp_plan(clusters, HOSTVARS, settings=settings, secrets={"web": "s"}, redact=False)
        assert clear == again
    with pytest.raises(AnsibleFilterError, match="vrrp_redact expects a plan"):
        vrrp_redact(["not", "a", "plan"])


def test_plan_settings_and_lock_are_applied() -> None:
    result = vrrp_plan(
        [WEB], HOSTVARS, settings={"mcast_unique": True}, lock={"web": {"ipv4": {"vrid": 33}}}
    )
    inst = result["clusters"]["web"]["instances"][0]
    assert (inst["vrid"], inst["mcast_group"]) == (33, "239.255.213.33")


def test_plan_errors_are_listed_in_the_filter_error() -> None:
    bad = {**WEB, "hosts": ["lb1", "ghost", "new"]}
    with pytest.raises(AnsibleFilterError) as info:
        vrrp_plan([bad], HOSTVARS)
    assert str(info.value).startswith("vipkeeper plan failed:\n- cluster web: unknown host ghost")


def test_unknown_setting_is_an_error() -> None:
    with pytest.raises(AnsibleFilterError, match="unknown planning settings: mcast_uniq"):
        vrrp_plan([WEB], HOSTVARS, settings={"mcast_uniq": True})


def test_vrrp_hosts_lists_names_and_those_without_facts() -> None:
    clusters = [WEB, {**WEB, "name": "db", "hosts": ["new", "lb1", "ghost"]}]
    assert vrrp_hosts(clusters) == ["lb1", "lb2", "new", "ghost"]
    assert vrrp_hosts(clusters, HOSTVARS, without_facts=True) == ["new"]
