"""The keywords keepalived accepts and vipkeeper does not implement: it warns and skips them.

The table is data. Each block context lists its keywords, one token each:

    name          a statement
    name{ctx}     a statement that opens a block in context `ctx` (its names are still checked)
    name[]        a statement that opens a block of free-form entries

Contexts are named after the keepalived block that opens them. To implement one, remove it
here and add a handler to its block's table; the registry refuses a keyword listed in both.
"""

from __future__ import annotations

from vipkeeper.config.builder.registry import Keyword, compile_unsupported

_CHECKER_COMMON = """
    connect_ip connect_port bindto bind_port bind_if connect_timeout fwmark retry
    delay_before_retry warmup delay_loop alpha log_all_failures
"""

_TABLE: dict[str, str] = {
    "root": """
        linkbeat_use_polling net_namespace net_namespace_ipvs
        namespace_with_ipsets use_pid_dir instance child_wait_time track_group{track_group}
        garp_group{garp_group} linkbeat_interfaces[]
        interface_up_down_delays[] bfd_instance{bfd_instance}
    """,
    "global_defs": """
        process_names process_name vrrp_process_name checker_process_name lvs_process_name
        bfd_process_name use_symlink_paths set_supplementary_groups startup_script
        startup_script_timeout shutdown_script shutdown_script_timeout max_auto_priority
        min_auto_priority_delay checker_log_all_failures disable_local_igmp
        lvs_timeouts lvs_sync_daemon vrrp_garp_extra_if vrrp_vmac_garp_intvl
        vrrp_ipsets vrrp_priority vrrp_no_swap
        vrrp_rt_priority vrrp_cpu_affinity vrrp_rlimit_rttime vrrp_rlimit_rtime
        nftables_ipvs nftables_ipvs_priority nftables_ipvs_start_fwmark
        fifo_write_vrrp_states_on_reload checker_priority
        checker_no_swap checker_rt_priority checker_cpu_affinity checker_rlimit_rttime
        checker_rlimit_rtime bfd_priority bfd_no_swap bfd_rt_priority bfd_cpu_affinity
        bfd_rlimit_rttime bfd_rlimit_rtime snmp_socket enable_traps enable_snmp_vrrp
        enable_snmp_keepalived enable_snmp_rfc enable_snmp_rfcv2 enable_snmp_rfcv3
        enable_snmp_checker snmp_vs_stats_update_interval snmp_rs_stats_update_interval
        enable_dbus dbus_service_name dbus_no_interface_name vrrp_netlink_cmd_rcv_bufs
        vrrp_netlink_cmd_rcv_bufs_force vrrp_netlink_monitor_rcv_bufs
        vrrp_netlink_monitor_rcv_bufs_force process_monitor_rcv_bufs
        process_monitor_rcv_bufs_force lvs_netlink_cmd_rcv_bufs
        lvs_netlink_cmd_rcv_bufs_force lvs_netlink_monitor_rcv_bufs
        lvs_netlink_monitor_rcv_bufs_force rs_init_notifies
        vrrp_rx_bufs_policy vrrp_rx_bufs_multiplier vrrp_delay_after_boot log_unknown_vrids
        vrrp_owner_ignore_adverts vmac_prefix vmac_addr_prefix umask random_seed
        reload_check_config reload_time_file reload_repeat reload_file include_check
        config_save_dir tmp_config_directory data_use_instance json_version iproute_usr_dir
        iproute_etc_dir state_dump_file stats_dump_file json_dump_file linkbeat_use_polling
    """,
    "vrrp_instance": """
        use_vmac_addr use_ipvlan unicast_fault_no_peer old_unicast_checksum native_ipv6 vrf
        track_bfd[] track_src_ip no_virtual_ipaddress linkbeat_use_polling
        lvs_sync_daemon_interface
        timer_expired_backup thread_timer_expired garp_extra_if vmac_garp_intvl
        owner_ignore_adverts kernel_rx_buf_size
    """,
    "authentication": "auth_hmac key active_key time_window anti_replay mode",
    "vrrp_sync_group": "track_bfd[]",
    "garp_group": "garp_interval gna_interval interface interfaces[]",
    "track_group": "group[]",
    "bfd_instance": """
        source_ip neighbor_ip neighbour_ip min_rx min_tx idle_tx multiplier passive ttl
        hoplimit max_hops multihop weight vrrp checker
    """,
    "virtual_server": "persistence_engine snmp_name weight",
    "real_server": "snmp_name",
    "url": """
        regex regex_no_match regex_options regex_min_offset regex_max_offset regex_stack
    """,
    "SMTP_CHECK": "host{SMTP_host}",
    "SMTP_host": _CHECKER_COMMON,
}

UNSUPPORTED: dict[str, dict[str, Keyword]] = compile_unsupported(_TABLE)
