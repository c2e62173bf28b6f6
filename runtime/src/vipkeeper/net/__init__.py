"""The only code that touches the kernel: sockets, addresses, links, GARP/NA."""
