"""ICMP echo packets: the request's bytes, and what a received datagram says about an echo.

What the kernel hands a socket differs by kind (Linux):

- a datagram socket (``SOCK_DGRAM``/``IPPROTO_ICMP[V6]``, "ping socket") gets only the echo
  replies to its own requests, ICMP header first; the kernel writes the socket's port as the
  identifier of every request it sends (whatever we put there) and computes both checksums;
- a raw ICMPv4 socket gets every ICMPv4 packet reaching the host (other programs' replies, the
  requests themselves on loopback, errors), each with its IPv4 header in front; we compute the
  checksum;
- a raw ICMPv6 socket gets every ICMPv6 packet without the IPv6 header; the kernel computes the
  checksum.

An error (destination unreachable, time exceeded) quotes the start of the packet that caused
it: the original IP header and the first 8 bytes of our echo request, enough to know whose
echo failed.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass

Datagram = bytes | bytearray | memoryview
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
# ICMP types that quote our request, and a few words for the log.
_ERRORS: dict[int, dict[int, str]] = {
    4: {3: "destination unreachable", 11: "time exceeded", 12: "parameter problem"},
    6: {1: "destination unreachable", 2: "packet too big", 3: "time exceeded"},
}
_UNREACHABLE_CODES: dict[int, dict[int, str]] = {
    4: {
        0: "network unreachable",
        1: "host unreachable",
        2: "protocol unreachable",
        3: "port unreachable",
        4: "fragmentation needed",
        9: "network administratively prohibited",
        10: "host administratively prohibited",
        13: "communication administratively prohibited",
    },
    6: {
        0: "no route to destination",
        1: "communication administratively prohibited",
        3: "address unreachable",
        4: "port unreachable",
    },
}
_IPV6_HEADER_BYTES = 40


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`: one's complement of the one's complement sum
    of its 16-bit big-endian words, an odd last byte padded with zero."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(version: int, ident: int, seq: int, payload: bytes, with_checksum: bool) -> bytes:
    """An echo request (type 8, or 128 for ICMPv6) carrying `payload`.

    Args:
        version: 4 or 6.
        ident: the identifier (a datagram socket overwrites it with its port).
        seq: the sequence number (0-65535).
        payload: the data after the 8-byte header.
        with_checksum: compute the checksum (a raw ICMPv4 socket needs it; the kernel computes
            it for datagram sockets and for ICMPv6).
    """
    kind = ECHO_REQUEST[version]
    if not with_checksum:
        return _HEADER.pack(kind, 0, 0, ident, seq) + payload
    unsummed = _HEADER.pack(kind, 0, 0, ident, seq) + payload
    return _HEADER.pack(kind, 0, checksum(unsummed), ident, seq) + payload


@dataclass(frozen=True, slots=True)
class Echo:
    """What a datagram says about one of our echoes.

    `address` is the echo's destination (for a reply, the source that answered; for an error,
    the destination quoted from our request); `error` is None for a reply, else the reason
    (with `reporter`, the router or host that sent the error).
    """

    address: str
    ident: int
    seq: int
    error: str | None = None
    reporter: str | None = None


def parse_reply(data: Datagram, version: int) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo reply read from a datagram socket; None otherwise."""
    return _echo_header(data, ECHO_REPLY[version])


def parse_request(data: Datagram, version: int) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo request (as a socket's error queue quotes it)."""
    return _echo_header(data, ECHO_REQUEST[version])


def _echo_header(data: Datagram, kind: int) -> tuple[int, int] | None:
    if len(data) < _HEADER.size or data[0] != kind or data[1] != 0:
        return None
    _kind, _code, _sum, ident, seq = _HEADER.unpack_from(data)
    return ident, seq


def parse_raw(data: Datagram, version: int, source: str) -> Echo | None:
    """The echo a packet read from a raw socket answers or fails; None for anything else.

    Args:
        data: the datagram as read (for ICMPv4 starting with the IPv4 header).
        version: 4 or 6.
        source: the address the datagram came from.
    """
    if version == 4:
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        data = data[(data[0] & 0x0F) * 4 :]
    if len(data) < _HEADER.size:
        return None
    kind, code, _sum, ident, seq = _HEADER.unpack_from(data)
    if kind == ECHO_REPLY[version]:
        return Echo(source, ident, seq) if code == 0 else None
    what = _ERRORS[version].get(kind)
    if what is None:
        return None
    quoted = _quoted_echo(data[_HEADER.size :], version)
    if quoted is None:
        return None
    destination, ident, seq = quoted
    return Echo(destination, ident, seq, error_text(version, kind, code), source)


def error_text(version: int, kind: int, code: int) -> str:
    """A few words for an ICMP error of `kind` and `code` ("host unreachable", ...)."""
    what = _ERRORS[version].get(kind, f"ICMP type {kind}")
    if what == "destination unreachable":
        return _UNREACHABLE_CODES[version].get(code, f"{what} (code {code})")
    return f"{what} (code {code})" if code else what


def _quoted_echo(quote: Datagram, version: int) -> tuple[str, int, int] | None:
    """(destination, identifier, sequence) of the echo request an ICMP error quotes."""
    if version == 4:
        if len(quote) < 20 or quote[0] >> 4 != 4:
            return None
        header_bytes = (quote[0] & 0x0F) * 4
        destination = socket.inet_ntop(socket.AF_INET, quote[16:20])
    else:
        header_bytes = _IPV6_HEADER_BYTES
        if len(quote) < header_bytes:
            return None
        destination = socket.inet_ntop(socket.AF_INET6, quote[24:40])
    inner = quote[header_bytes:]
    if len(inner) < _HEADER.size or inner[0] != ECHO_REQUEST[version]:
        return None
    _kind, _code, _sum, ident, seq = _HEADER.unpack_from(inner)
    return destination, ident, seq


_EXTENDED_ERROR = struct.Struct("=IBBBBII")  # struct sock_extended_err (linux/errqueue.h)
_ORIGIN_ICMP = {4: 2, 6: 3}  # SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6


def extended_error_text(data: Datagram, version: int) -> str:
    """The reason an ``IP_RECVERR``/``IPV6_RECVERR`` control message gives: the ICMP error and
    who sent it ("host unreachable from 192.0.2.1"), or the local error ("Message too long")."""
    if len(data) < _EXTENDED_ERROR.size:
        return "unknown error"
    errno, origin, kind, code, _pad, _info, _data = _EXTENDED_ERROR.unpack_from(data)
    if origin != _ORIGIN_ICMP[version]:
        return os.strerror(errno)
    text = error_text(version, kind, code)
    offender = data[_EXTENDED_ERROR.size :]  # SO_EE_OFFENDER: a sockaddr_in or sockaddr_in6
    if version == 4 and len(offender) >= 8:
        return f"{text} from {socket.inet_ntop(socket.AF_INET, offender[4:8])}"
    if version == 6 and len(offender) >= 24:
        return f"{text} from {socket.inet_ntop(socket.AF_INET6, offender[8:24])}"
    return text
