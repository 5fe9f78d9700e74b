"""Free loopback ports: bind port 0, read the kernel's choice, close.

A port found this way can be taken by someone else before it is used; the servers in this
package therefore retry their start with a new port when the bind fails.
"""

from __future__ import annotations

import socket

__all__ = ["free_tcp_port", "free_udp_port", "free_udp_port_on", "free_udp_port_pair"]


def _family(host: str) -> socket.AddressFamily:
    """Return the address family of a literal IPv4 or IPv6 address."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _free_port(host: str, kind: socket.SocketKind) -> int:
    """Bind ``host:0`` with a socket of ``kind`` and return the port the kernel picked."""
    with socket.socket(_family(host), kind) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_udp_port(host: str = "127.0.0.1") -> int:
    """Return a UDP port that is free on ``host`` right now."""
    return _free_port(host, socket.SOCK_DGRAM)


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    return _free_port(host, socket.SOCK_STREAM)


def free_udp_port_pair(host4: str = "127.0.0.1", host6: str = "::1", attempts: int = 50) -> int:
    """Return a UDP port number that is free on both ``host4`` and ``host6`` right now."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock4:
            sock4.bind((host4, 0))
            port: int = sock4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock6:
                    sock6.bind((host6, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no UDP port free on both {host4} and {host6} after {attempts} attempts")


def free_udp_port_on(host: str, host6: str | None) -> int:
    """Return a UDP port free on ``host``, and on ``host6`` too when one is given."""
    return free_udp_port_pair(host, host6) if host6 else free_udp_port(host)
