"""asyncio wiring: signals, reload, control socket, metrics, notify."""
