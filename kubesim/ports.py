"""Loopback ports shared by every simulated cluster of this machine.

All simulated clusters listen on 127.0.0.0/8, so a NodePort or load-balancer
address that a federation API server will listen on must be free machine-wide,
not just unique within one cluster as on a real cluster.
"""

from __future__ import annotations

import errno
import random
import socket
import threading

_RESERVED_NODE_PORTS: set[int] = set()
_LOCK = threading.Lock()


def ports_free(address: str, ports: list[int]) -> bool:
    """Return False when another socket already listens on one of ``ports`` at ``address``."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((address, port))
            except OSError as error:
                # Only a port in use counts: without root, binding port 443 fails with EACCES
                # everywhere, and the federation API server then reports that itself.
                if error.errno == errno.EADDRINUSE:
                    return False
    return True


def reserve_node_port(candidates: range, taken: set[int]) -> int | None:
    """Pick a free port of ``candidates`` from a random start, as the API server's allocator does.

    A port is skipped when the cluster already uses it, when another cluster of
    this process got it, or when something listens on it at 127.0.0.1.
    """
    with _LOCK:
        offset = random.randrange(len(candidates))
        for index in range(len(candidates)):
            port = candidates[(offset + index) % len(candidates)]
            if port in taken or port in _RESERVED_NODE_PORTS or not ports_free("127.0.0.1", [port]):
                continue
            _RESERVED_NODE_PORTS.add(port)
            return port
    return None
