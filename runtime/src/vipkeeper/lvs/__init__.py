"""LVS: virtual/real server model and dataplane backends (IPVS, nftables)."""
