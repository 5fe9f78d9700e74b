"""The ICMP socket choice: unprivileged first; a clear error naming the sysctl when forbidden."""

import os

import pytest
from icmplib import SocketPermissionError

from chm_exporter.config import IcmpSettings
from chm_exporter.errors import IcmpProbeError
from chm_exporter.probers import icmp


class _Forbidden:
    def __init__(self, source: object, privileged: bool) -> None:
        raise SocketPermissionError(privileged)


def test_forbidden_datagram_socket_names_the_sysctl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(icmp, "ICMPv4Socket", _Forbidden)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # the module icmp reads it from
    with pytest.raises(IcmpProbeError, match=r"net\.ipv4\.ping_group_range"):
        icmp.open_icmp_socket("127.0.0.1", IcmpSettings())


def test_datagram_socket_opens_unprivileged_by_default() -> None:
    sock = icmp.open_icmp_socket("127.0.0.1", IcmpSettings(dont_fragment=True))
    try:
        assert sock.is_privileged is False
    finally:
        sock.close()


def test_address_hash_is_fnv1a_32_as_blackbox() -> None:
    # reference values of FNV-1a 32-bit (the offset basis for "", and "a")
    assert icmp._fnv32a("") == 0x811C9DC5
    assert icmp._fnv32a("a") == 0xE40C292C
