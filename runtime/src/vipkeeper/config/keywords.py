"""The keyword registry: every keepalived keyword, the block it belongs to, and its status.

The table below is data. Each block context lists its keywords, one token each:

    name          a statement vipkeeper implements
    name{ctx}     a statement that opens a block parsed in context `ctx`
    name[]        a statement that opens a block of free-form entries (addresses, names...)
    -name...      the same, but recognized and not implemented: vipkeeper warns and skips it

Contexts are named after the keepalived block that opens them. `build.py` holds one handler
per implemented keyword; a unit test keeps the two in step, and another checks that every
keyword of keepalived 2.4 (docs/keepalived-keywords.txt) is present.
"""

from __future__ import annotations

import difflib

from vipkeeper._compat import SLOTS, dataclass

LIST = "[]"  # pseudo-context of free-form list blocks


@dataclass(frozen=True, **SLOTS)
class Keyword:
    """One recognized keyword in one context."""

    name: str
    context: str
    supported: bool
    block: str | None  # context of the block it opens, LIST, or None for a plain statement


_CHECKER_COMMON = """
    connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry
    delay_before_retry warmup delay_loop alpha log_all_failures
"""

_TABLE: dict[str, str] = {
    "root": """
        global_defs{global_defs} vrrp_instance{vrrp_instance} vrrp_sync_group{vrrp_sync_group}
        vrrp_script{vrrp_script} track_file{track_file} vrrp_track_file{track_file}
        virtual_server_group[] virtual_server{virtual_server}
        static_ipaddress[] static_routes[]
        -static_rules[] -linkbeat_use_polling -net_namespace -net_namespace_ipvs
        -namespace_with_ipsets -use_pid_dir -instance -child_wait_time
        -track_group{track_group} -garp_group{garp_group} -linkbeat_interfaces[]
        -vrrp_track_process{vrrp_track_process} -interface_up_down_delays[] -SSL{SSL}
        -bfd_instance{bfd_instance}
    """,
    "global_defs": """
        router_id notification_email[] notification_email_from smtp_server smtp_helo_name
        smtp_connect_timeout smtp_alert smtp_alert_vrrp smtp_alert_checker
        default_interface dynamic_interfaces v3_checksum_as_v2
        lvs_flush lvs_flush_on_stop lvs_flush_onstop
        vrrp_mcast_group4 vrrp_mcast_group6 vrrp_garp_master_delay vrrp_garp_master_repeat
        vrrp_garp_master_refresh vrrp_garp_master_refresh_repeat vrrp_garp_lower_prio_delay
        vrrp_garp_lower_prio_repeat vrrp_down_timer_adverts vrrp_garp_interval vrrp_gna_interval
        vrrp_min_garp vrrp_lower_prio_no_advert vrrp_higher_prio_send_advert vrrp_version
        vrrp_check_unicast_src vrrp_skip_check_adv_addr vrrp_strict
        notify_fifo notify_fifo_script vrrp_notify_fifo vrrp_notify_fifo_script
        lvs_notify_fifo lvs_notify_fifo_script script_user enable_script_security
        vrrp_startup_delay
        -process_names -process_name -vrrp_process_name -checker_process_name
        -lvs_process_name -bfd_process_name -use_symlink_paths -set_supplementary_groups
        -startup_script -startup_script_timeout -shutdown_script -shutdown_script_timeout
        -max_auto_priority -min_auto_priority_delay -checker_log_all_failures
        -no_email_faults -disable_local_igmp -lvs_timeouts -lvs_sync_daemon
        -vrrp_garp_extra_if -vrrp_vmac_garp_intvl -vrrp_iptables -vrrp_ipsets -nftables
        -nftables_priority -nftables_ifindex -vrrp_priority -vrrp_no_swap -vrrp_rt_priority
        -vrrp_cpu_affinity -vrrp_rlimit_rttime -vrrp_rlimit_rtime -nftables_ipvs
        -nftables_ipvs_priority -nftables_ipvs_start_fwmark -nftables_counters
        -vrrp_notify_priority_changes -fifo_write_vrrp_states_on_reload
        -checker_priority -checker_no_swap -checker_rt_priority -checker_cpu_affinity
        -checker_rlimit_rttime -checker_rlimit_rtime -bfd_priority -bfd_no_swap
        -bfd_rt_priority -bfd_cpu_affinity -bfd_rlimit_rttime -bfd_rlimit_rtime
        -snmp_socket -enable_traps -enable_snmp_vrrp -enable_snmp_keepalived -enable_snmp_rfc
        -enable_snmp_rfcv2 -enable_snmp_rfcv3 -enable_snmp_checker
        -snmp_vs_stats_update_interval -snmp_rs_stats_update_interval -enable_dbus
        -dbus_service_name -dbus_no_interface_name -vrrp_netlink_cmd_rcv_bufs
        -vrrp_netlink_cmd_rcv_bufs_force -vrrp_netlink_monitor_rcv_bufs
        -vrrp_netlink_monitor_rcv_bufs_force -process_monitor_rcv_bufs
        -process_monitor_rcv_bufs_force -lvs_netlink_cmd_rcv_bufs
        -lvs_netlink_cmd_rcv_bufs_force -lvs_netlink_monitor_rcv_bufs
        -lvs_netlink_monitor_rcv_bufs_force -rs_init_notifies -no_checker_emails
        -vrrp_rx_bufs_policy -vrrp_rx_bufs_multiplier -vrrp_delay_after_boot
        -log_unknown_vrids -vrrp_owner_ignore_adverts -vmac_prefix -vmac_addr_prefix -umask
        -random_seed -reload_check_config -reload_time_file -reload_repeat -reload_file
        -include_check -config_save_dir -tmp_config_directory -data_use_instance
        -json_version -iproute_usr_dir -iproute_etc_dir -state_dump_file -stats_dump_file
        -json_dump_file -linkbeat_use_polling
    """,
    "vrrp_instance": """
        state interface virtual_router_id priority advert_int version preempt nopreempt
        preempt_delay authentication{authentication} virtual_ipaddress[]
        virtual_ipaddress_excluded[] virtual_routes[] unicast_src_ip unicast_peer[]
        unicast_ttl mcast_src_ip mcast_dst_ip track_interface[] track_script[] track_file[]
        notify_master notify_backup notify_fault notify_stop notify_deleted notify
        notify_master_rx_lower_pri smtp_alert garp_master_delay garp_master_repeat
        garp_master_refresh garp_master_refresh_repeat garp_lower_prio_delay
        garp_lower_prio_repeat lower_prio_no_advert higher_prio_send_advert
        down_timer_adverts skip_check_adv_addr check_unicast_src strict_mode use_vmac
        vmac_xmit_base dont_track_primary accept no_accept promote_secondaries debug
        v3_checksum_as_v2
        -use_vmac_addr -use_ipvlan -unicast_fault_no_peer -old_unicast_checksum -native_ipv6
        -vrf -track_process[] -track_bfd[] -track_src_ip -no_virtual_ipaddress
        -linkbeat_use_polling -virtual_rules[] -notify_priority_changes
        -lvs_sync_daemon_interface -timer_expired_backup -thread_timer_expired
        -garp_extra_if -vmac_garp_intvl -owner_ignore_adverts -kernel_rx_buf_size
    """,
    "authentication": """
        auth_type auth_pass
        -auth_hmac -key -active_key -time_window -anti_replay -mode
    """,
    "vrrp_sync_group": """
        group[] track_interface[] track_script[] track_file[] notify_master notify_backup
        notify_fault notify_stop notify smtp_alert global_tracking sync_group_tracking_weight
        -track_process[] -track_bfd[] -notify_priority_changes
    """,
    "vrrp_script": "script interval timeout weight rise fall user init_fail",
    "track_file": "file weight init_file",
    "vrrp_track_process": """
        -process -param_match -weight -quorum -quorum_max -delay -terminate_delay
        -fork_delay -full_command
    """,
    "garp_group": "-garp_interval -gna_interval -interface -interfaces[]",
    "track_group": "-group[]",
    "SSL": "-password -ca -certificate -key",
    "bfd_instance": """
        -source_ip -neighbor_ip -neighbour_ip -min_rx -min_tx -idle_tx -multiplier -passive
        -ttl -hoplimit -max_hops -multihop -weight -vrrp -checker
    """,
    "virtual_server": """
        ip_family retry delay_before_retry warmup connect_timeout delay_loop
        inhibit_on_failure lb_algo lvs_sched hashed ops flag-1 flag-2 flag-3 sh-port
        sh-fallback mh-port mh-fallback lb_kind lvs_method persistence_timeout
        persistence_granularity protocol ha_suspend smtp_alert virtualhost alpha omega
        quorum_up quorum_down quorum hysteresis sorry_server sorry_server_inhibit
        sorry_server_lvs_method real_server{real_server}
        -persistence_engine -snmp_name -weight
    """,
    "real_server": """
        weight lvs_method inhibit_on_failure notify_up notify_down uthreshold lthreshold alpha
        retry delay_before_retry warmup connect_timeout delay_loop smtp_alert virtualhost
        TCP_CHECK{TCP_CHECK} HTTP_GET{HTTP_GET} SSL_GET{HTTP_GET} MISC_CHECK{MISC_CHECK}
        DNS_CHECK{DNS_CHECK} UDP_CHECK{UDP_CHECK} PING_CHECK{PING_CHECK}
        FILE_CHECK{FILE_CHECK} SMTP_CHECK{SMTP_CHECK} BFD_CHECK{BFD_CHECK}
        -snmp_name
    """,
    "TCP_CHECK": _CHECKER_COMMON,
    "PING_CHECK": _CHECKER_COMMON,
    "HTTP_GET": _CHECKER_COMMON
    + """
        nb_get_retry virtualhost http_protocol enable_sni sni_name fast_recovery tls_compliant
        url{url}
    """,
    "url": """
        path digest status_code virtualhost tls_compliant
        -regex -regex_no_match -regex_options -regex_min_offset -regex_max_offset -regex_stack
    """,
    "MISC_CHECK": _CHECKER_COMMON + " misc_path misc_timeout misc_dynamic user",
    "DNS_CHECK": _CHECKER_COMMON + " type name",
    "UDP_CHECK": _CHECKER_COMMON + " payload require_reply min_reply_length max_reply_length",
    "FILE_CHECK": _CHECKER_COMMON + " track_file weight",
    "SMTP_CHECK": _CHECKER_COMMON + " helo_name -host{SMTP_host}",
    "SMTP_host": " ".join("-" + word for word in _CHECKER_COMMON.split()),
    "BFD_CHECK": _CHECKER_COMMON + " name",
}


def _compile(table: dict[str, str]) -> dict[str, dict[str, Keyword]]:
    out: dict[str, dict[str, Keyword]] = {}
    for context, text in table.items():
        entries: dict[str, Keyword] = {}
        for raw in text.split():
            supported = not raw.startswith("-")
            word = raw[1:] if not supported else raw
            block: str | None = None
            if word.endswith(LIST):
                word, block = word[: -len(LIST)], LIST
            elif word.endswith("}"):
                word, _, rest = word.partition("{")
                block = rest[:-1]
            entries[word] = Keyword(word, context, supported, block)
        out[context] = entries
    return out


CONTEXTS: dict[str, dict[str, Keyword]] = _compile(_TABLE)


def lookup(context: str, name: str) -> Keyword | None:
    """The keyword `name` in block `context`, if keepalived has it there."""
    return CONTEXTS.get(context, {}).get(name)


def suggest(context: str, name: str) -> str | None:
    """The closest keyword of `context` to a misspelt `name`, if any is close."""
    matches = difflib.get_close_matches(name, list(CONTEXTS.get(context, {})), n=1, cutoff=0.6)
    return matches[0] if matches else None


def context_names() -> list[str]:
    """Every block context."""
    return list(CONTEXTS)
