"""ICMP echo packets: the request's bytes and checksum, and what replies and errors say (fake
datagrams shaped as a raw socket reads them, IPv4 header included)."""

from __future__ import annotations

import socket
import struct

import pytest

from chm_exporter.icmp import packet


def _ipv4_header(source: str, destination: str, options: bytes = b"") -> bytes:
    ihl = 5 + len(options) // 4
    fixed = struct.pack("!BBHHHBBH", 0x40 | ihl, 0, 0, 0, 0, 64, 1, 0)
    return fixed + socket.inet_aton(source) + socket.inet_aton(destination) + options


def _ipv6_header(source: str, destination: str) -> bytes:
    fixed = struct.pack("!IHBB", 6 << 28, 8, 58, 64)
    pton = socket.inet_pton
    return fixed + pton(socket.AF_INET6, source) + pton(socket.AF_INET6, destination)


def test_checksum_is_rfc1071() -> None:
    # RFC 1071 section 3's example: the sum of 0001 f203 f4f5 f6f7 is ddf2 (with carries)
    assert packet.checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    # odd length: the last byte is padded with a zero
    assert packet.checksum(b"\x01") == 0xFFFF - 0x0100


@pytest.mark.parametrize("payload", [b"", b"x", b"CHM exporter echo " * 3 + b"ab"])
def test_echo_request_v4_checksums_to_zero(payload: bytes) -> None:
    request = packet.echo_request(4, 0x1234, 0xBEEF, payload, with_checksum=True)
    assert request[:2] == b"\x08\x00"
    assert struct.unpack_from("!HH", request, 4) == (0x1234, 0xBEEF)
    assert request[8:] == payload
    assert packet.checksum(request) == 0  # a correct checksum sums the packet to zero


def test_echo_request_without_checksum_leaves_it_to_the_kernel() -> None:
    v4 = packet.echo_request(4, 7, 9, b"ab", with_checksum=False)
    v6 = packet.echo_request(6, 7, 9, b"ab", with_checksum=False)
    assert v4 == bytes([8, 0, 0, 0, 0, 7, 0, 9]) + b"ab"
    assert v6 == bytes([128, 0, 0, 0, 0, 7, 0, 9]) + b"ab"


def test_reply_from_a_datagram_socket() -> None:
    reply = bytes([0, 0, 0x12, 0x34, 0x5B, 0x54, 0x00, 0x07]) + b"data"
    assert packet.parse_reply(reply, 4) == (0x5B54, 7)
    assert packet.parse_reply(bytes([129]) + reply[1:], 6) == (0x5B54, 7)
    assert packet.parse_reply(reply, 6) is None  # an ICMPv4 reply type is not ICMPv6's
    assert packet.parse_reply(reply[:7], 4) is None
    assert packet.parse_reply(bytes([8]) + reply[1:], 4) is None  # a request
    assert packet.parse_request(bytes([8]) + reply[1:], 4) == (0x5B54, 7)


@pytest.mark.parametrize("options", [b"", b"\x01\x01\x01\x00"])
def test_raw_v4_reply_behind_its_ip_header(options: bytes) -> None:
    icmp = packet.echo_request(4, 0x4243, 10, b"xyz", with_checksum=True)
    reply = bytes([0]) + icmp[1:]
    datagram = _ipv4_header("127.0.0.5", "127.0.0.1", options) + reply
    got = packet.parse_raw(datagram, 4, "127.0.0.5")
    assert got == packet.Echo("127.0.0.5", 0x4243, 10)


def test_raw_v4_sees_requests_and_other_types_and_ignores_them() -> None:
    request = packet.echo_request(4, 0x4243, 10, b"xyz", with_checksum=True)
    assert packet.parse_raw(_ipv4_header("127.0.0.1", "127.0.0.1") + request, 4, "x") is None
    timestamp = bytes([13, 0, 0, 0, 0, 1, 0, 1])
    assert packet.parse_raw(_ipv4_header("10.0.0.1", "127.0.0.1") + timestamp, 4, "x") is None
    assert packet.parse_raw(b"\x45\x00", 4, "x") is None  # truncated


def test_raw_v4_destination_unreachable_names_the_echo_it_quotes() -> None:
    ours = packet.echo_request(4, 0x4243, 77, b"CHM exporter echo ", with_checksum=True)
    quoted = _ipv4_header("192.0.2.1", "198.51.100.9") + ours[:8]
    error = bytes([3, 1, 0, 0, 0, 0, 0, 0]) + quoted  # host unreachable
    datagram = _ipv4_header("198.51.100.1", "192.0.2.1") + error
    got = packet.parse_raw(datagram, 4, "198.51.100.1")
    assert got == packet.Echo("198.51.100.9", 0x4243, 77, "host unreachable", "198.51.100.1")


def test_raw_v4_time_exceeded_and_an_error_quoting_something_else() -> None:
    ours = packet.echo_request(4, 1, 2, b"", with_checksum=True)
    quoted = _ipv4_header("192.0.2.1", "198.51.100.9") + ours
    exceeded = packet.parse_raw(
        _ipv4_header("203.0.113.1", "192.0.2.1") + bytes([11, 0, 0, 0, 0, 0, 0, 0]) + quoted,
        4,
        "203.0.113.1",
    )
    assert exceeded is not None
    assert exceeded.error == "time exceeded"
    assert (exceeded.address, exceeded.ident, exceeded.seq) == ("198.51.100.9", 1, 2)
    udp = _ipv4_header("192.0.2.1", "198.51.100.9") + struct.pack("!HHHH", 5000, 161, 8, 0)
    port = bytes([3, 3, 0, 0, 0, 0, 0, 0]) + udp  # someone's UDP port unreachable
    assert packet.parse_raw(_ipv4_header("198.51.100.9", "192.0.2.1") + port, 4, "x") is None


def test_raw_v6_reply_and_error() -> None:
    reply = bytes([129, 0, 0, 0, 0x12, 0x34, 0, 5]) + b"payload"
    assert packet.parse_raw(reply, 6, "::1") == packet.Echo("::1", 0x1234, 5)
    ours = packet.echo_request(6, 0x1234, 6, b"p", with_checksum=False)
    quoted = _ipv6_header("2001:db8::1", "2001:db8::99") + ours
    error = bytes([1, 3, 0, 0, 0, 0, 0, 0]) + quoted  # address unreachable
    got = packet.parse_raw(error, 6, "2001:db8::fe")
    assert got == packet.Echo("2001:db8::99", 0x1234, 6, "address unreachable", "2001:db8::fe")
    assert packet.parse_raw(bytes([128]) + reply[1:], 6, "::1") is None  # our own request


def test_extended_error_text() -> None:
    offender = struct.pack("=HH4s8x", socket.AF_INET, 0, socket.inet_aton("198.51.100.1"))
    icmp = struct.pack("=IBBBBII", 113, 2, 3, 1, 0, 0, 0) + offender
    assert packet.extended_error_text(icmp, 4) == "host unreachable from 198.51.100.1"
    local = struct.pack("=IBBBBII", 90, 1, 0, 0, 0, 1500, 0)  # EMSGSIZE, origin local
    assert packet.extended_error_text(local, 4) == "Message too long"
    offender6 = struct.pack(
        "=HHI16sI", socket.AF_INET6, 0, 0, socket.inet_pton(socket.AF_INET6, "2001:db8::1"), 0
    )
    icmp6 = struct.pack("=IBBBBII", 113, 3, 3, 0, 0, 0, 0) + offender6
    assert packet.extended_error_text(icmp6, 6) == "time exceeded from 2001:db8::1"
    assert packet.extended_error_text(b"\x00", 4) == "unknown error"
