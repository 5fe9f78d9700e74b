"""Parsing the `target` parameter of /probe (resolving it: :mod:`chm_exporter.resolver`).

Accepted forms: ``host``, ``host:port``, ``[v6addr]``, ``[v6addr]:port``, a bare IPv6 address,
and the same with a ``udp://`` (any family), ``udp4://`` or ``udp6://`` scheme, as snmp_exporter
accepts them.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from chm_exporter.errors import TargetError

IpFamily = Literal["ip4", "ip6"]

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$")
_SCHEMES: dict[str, IpFamily | None] = {"udp": None, "udp4": "ip4", "udp6": "ip6"}


@functools.lru_cache(maxsize=4096)
def ip_version(text: str) -> int | None:
    """4 or 6 when `text` is a literal IP address, else None (a name, or not an address).

    Every probe asks this of the same fleet's addresses several times: cached, it is a lookup.
    """
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed target: host (name or literal address), optional port, forced family."""

    host: str
    port: int | None = None
    family: IpFamily | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def is_literal(self) -> bool:
        """True when host is an IP address, not a name."""
        return ip_version(self.host) is not None


def parse_target(raw: str) -> Target:
    """Parse a target string.

    Args:
        raw: the `target` query parameter.

    Returns:
        The parsed target.

    Raises:
        TargetError: when the string is not one of the accepted forms.
    """
    text = raw.strip()
    if not text:
        raise TargetError("target is empty")
    if len(text) > 300 or any(ord(c) < 0x21 or ord(c) > 0x7E for c in text):
        raise TargetError("target has characters no host name or address may have")
    family: IpFamily | None = None
    scheme, sep, rest = text.partition("://")
    if sep:
        if scheme.lower() not in _SCHEMES:
            raise TargetError(f"target scheme {scheme!r} is not one of udp, udp4, udp6")
        family = _SCHEMES[scheme.lower()]
        text = rest
    host, port = _split_host_port(text)
    _check_host(host)
    if family is not None:
        _check_family(host, family)
    return Target(host=host, port=port, family=family)


def _split_host_port(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise TargetError("target has '[' without ']'")
        host, tail = text[1:end], text[end + 1 :]
        if not _is_ipv6(host):
            raise TargetError(f"{host!r} in brackets is not an IPv6 address")
        if not tail:
            return host, None
        if not tail.startswith(":"):
            raise TargetError("target has text after ']' that is not ':port'")
        return host, _parse_port(tail[1:])
    if text.count(":") > 1:
        if not _is_ipv6(text):
            raise TargetError(f"{text!r} is not an IPv6 address (write [addr]:port for a port)")
        return text, None
    host, sep, port = text.partition(":")
    return host, _parse_port(port) if sep else None


def _parse_port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise TargetError(f"port {text!r} is not a number from 1 to 65535")
    return int(text)


def _is_ipv6(text: str) -> bool:
    return ip_version(text) == 6


def _check_host(host: str) -> None:
    if not host:
        raise TargetError("target has no host")
    if ip_version(host) is None:
        if not _HOSTNAME.match(host):
            raise TargetError(f"{host!r} is neither an IP address nor a host name")
        return
    reason = unprobeable(host)
    if reason is not None:
        raise TargetError(f"address {host} {reason}")


@functools.lru_cache(maxsize=4096)
def unprobeable(address: str) -> str | None:
    """Why no probe may be sent to the literal `address` (None when one may): a multicast,
    broadcast or unspecified address reaches many hosts or none, and a scoped IPv6 address
    (``fe80::1%eth0``) is not something the SNMP library can send to."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return "has a scope (%zone): scoped IPv6 addresses are not supported"
    if ip.is_multicast:
        return "is a multicast address"
    if ip.is_unspecified:
        return "is the unspecified address"
    if ip == ipaddress.IPv4Address("255.255.255.255"):
        return "is the broadcast address"
    return None


def _check_family(host: str, family: IpFamily) -> None:
    version = ip_version(host)
    if version is None:
        return
    if (version == 4) != (family == "ip4"):
        raise TargetError(f"address {host} does not match the scheme's IP family")
