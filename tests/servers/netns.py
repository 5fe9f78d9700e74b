"""A test host in a private network namespace: silent (black hole) or answering.

:func:`netns_host` creates a namespace ``chmtest-<hex>`` and a veth pair to the root namespace
with a /30 from the documentation ranges 198.51.100.0/24 and 203.0.113.0/24 (TEST-NET-2/3;
192.0.2.0/24 is this machine's own eth0 here), picking one that no route or address of the
root namespace overlaps, under a lock so that parallel test runs do not collide. Traffic to
``.address`` therefore only ever reaches the namespace we created.

- ``silent=True`` (:func:`blackhole_netns`): the namespace drops ICMP echo
  (``net.ipv4.icmp_echo_ignore_all=1``) *and* routes the root side's address into a
  ``blackhole`` route, so nothing at all comes back: no echo reply, no ICMP port unreachable,
  no TCP RST or SYN-ACK. Probes (ping, SNMP, SSH) see pure timeouts, as with a dead host.
  ARP still answers, so the kernel does not report "host unreachable" either.
- ``silent=False`` (:func:`answering_netns`): the same topology answering normally (ping
  replies, closed UDP ports refuse), which proves a silent result is the black hole's doing.

Requires root (``ip netns``, ``ip link``). Processes started in the namespace with
:meth:`NetnsHost.exec_argv` must be stopped before the context exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import random
import secrets
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NetnsHost", "answering_netns", "blackhole_netns", "icmp_echo", "netns_host"]

_CANDIDATE_RANGES = ("198.51.100.0/24", "203.0.113.0/24")
_LOCK_PATH = Path("/run/lock/chm-test-netns.lock")


def _ip_binary() -> str:
    """Path of iproute2's ``ip``."""
    return shutil.which("ip") or "/usr/sbin/ip"


def _run(argv: Sequence[str]) -> str:
    """Run a command; raise with its stderr on failure; return stdout."""
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result.stdout


def _ip(*args: str) -> str:
    """``ip <args>``."""
    return _run([_ip_binary(), *args])


@dataclass(frozen=True)
class NetnsHost:
    """A namespace reachable from the root namespace over a veth pair.

    ``address`` is the namespace side (the host tests probe), ``root_address`` the root side.
    """

    name: str
    address: str
    root_address: str
    prefixlen: int
    root_link: str
    ns_link: str
    silent: bool

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed to run inside the namespace (``ip netns exec <name> ...``)."""
        return [_ip_binary(), "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str]) -> str:
        """Run a command inside the namespace, raising on failure; return its stdout."""
        return _run(self.exec_argv(argv))

    def sysctl(self, key: str) -> str:
        """Read a sysctl inside the namespace."""
        return self.run(["sysctl", "-n", key]).strip()


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 prefix the root namespace has a route or an address for."""
    networks: list[ipaddress.IPv4Network] = []
    for entry in json.loads(_ip("-j", "-4", "route", "show", "table", "all") or "[]"):
        dst = entry.get("dst", "")
        if dst and dst != "default":
            networks.append(ipaddress.IPv4Network(dst, strict=False))
    for link in json.loads(_ip("-j", "-4", "addr", "show") or "[]"):
        for info in link.get("addr_info", []):
            networks.append(ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", False))
    return networks


def _pick_subnet() -> ipaddress.IPv4Network:
    """A free /30 from the candidate ranges, chosen at random among the unused ones."""
    used = _used_networks()
    candidates = [
        subnet
        for block in _CANDIDATE_RANGES
        for subnet in ipaddress.IPv4Network(block).subnets(new_prefix=30)
        if not any(subnet.overlaps(net) for net in used)
    ]
    if not candidates:
        raise RuntimeError(f"no free /30 left in {', '.join(_CANDIDATE_RANGES)}")
    return random.choice(candidates)


@contextlib.contextmanager
def _allocation_lock() -> Iterator[None]:
    """An exclusive file lock serialising subnet allocation between processes."""
    _LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with _LOCK_PATH.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create(host: NetnsHost, subnet: ipaddress.IPv4Network) -> None:
    """Namespace, veth pair, addresses, links up, and the silence if asked for."""
    _ip("netns", "add", host.name)
    _ip("link", "add", host.root_link, "type", "veth", "peer", "name", host.ns_link,
        "netns", host.name)  # fmt: skip
    _ip("addr", "add", f"{host.root_address}/{subnet.prefixlen}", "dev", host.root_link)
    _ip("link", "set", host.root_link, "up")
    _ip("-n", host.name, "addr", "add", f"{host.address}/{subnet.prefixlen}", "dev", host.ns_link)
    _ip("-n", host.name, "link", "set", host.ns_link, "up")
    _ip("-n", host.name, "link", "set", "lo", "up")
    host.run(["sysctl", "-q", "-w", f"net.ipv4.icmp_echo_ignore_all={int(host.silent)}"])
    if host.silent:
        _ip("-n", host.name, "route", "add", "blackhole", f"{host.root_address}/32")


def _destroy(host: NetnsHost) -> None:
    """Delete the namespace (which destroys the veth pair) and the root link if left over."""
    subprocess.run([_ip_binary(), "netns", "del", host.name], capture_output=True, check=False)
    if Path("/sys/class/net", host.root_link).exists():
        subprocess.run([_ip_binary(), "link", "del", host.root_link], capture_output=True,
                       check=False)  # fmt: skip


@contextlib.contextmanager
def netns_host(*, silent: bool) -> Iterator[NetnsHost]:
    """Create a namespace host (silent or answering); yield it; remove everything after."""
    token = secrets.token_hex(3)
    with _allocation_lock():
        subnet = _pick_subnet()
        root_address, address = (str(a) for a in subnet.hosts())
        host = NetnsHost(
            name=f"chmtest-{token}",
            address=address,
            root_address=root_address,
            prefixlen=subnet.prefixlen,
            root_link=f"chmv{token}",
            ns_link=f"chmp{token}",
            silent=silent,
        )
        try:
            _create(host, subnet)
        except BaseException:
            _destroy(host)
            raise
    try:
        yield host
    finally:
        _destroy(host)


@contextlib.contextmanager
def blackhole_netns() -> Iterator[NetnsHost]:
    """A host that never answers anything (see the module docstring)."""
    with netns_host(silent=True) as host:
        yield host


@contextlib.contextmanager
def answering_netns() -> Iterator[NetnsHost]:
    """The same topology as :func:`blackhole_netns`, answering normally."""
    with netns_host(silent=False) as host:
        yield host


# -- ICMP echo without a ping binary (Debian's iputils-ping is not installed here) ------------
def _checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\0"
    words: tuple[int, ...] = struct.unpack(f"!{len(data) // 2}H", data)
    total = sum(words)
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo_request(ident: int, seq: int) -> bytes:
    """An ICMP echo request (type 8) with a checksum."""
    payload = b"chm-test-echo"
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    checksum = _checksum(header + payload)
    return struct.pack("!BBHHH", 8, 0, checksum, ident, seq) + payload


def _icmp_socket() -> tuple[socket.socket, bool]:
    """A datagram ICMP socket if ``ping_group_range`` allows it, else a raw one (root)."""
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP), False
    except PermissionError:
        return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), True


def _is_reply(data: bytes, raw: bool, ident: int, seq: int) -> bool:
    """True for an echo reply (type 0) to our request; raw packets carry the IP header."""
    if raw:
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < 8:
        return False
    kind, _, _, reply_ident, reply_seq = struct.unpack("!BBHHH", data[:8])
    return kind == 0 and reply_seq == seq and (not raw or reply_ident == ident)


def icmp_echo(address: str, timeout: float = 1.0) -> bool:
    """Send one ICMP echo request to ``address``; True if a reply came within ``timeout``."""
    ident, seq = secrets.randbits(16), secrets.randbits(16)
    sock, raw = _icmp_socket()
    with sock:
        sock.sendto(_echo_request(ident, seq), (address, 0))
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            sock.settimeout(remaining)
            try:
                data, (source, *_) = sock.recvfrom(2048)
            except TimeoutError:
                return False
            if source == address and _is_reply(data, raw, ident, seq):
                return True
    return False
