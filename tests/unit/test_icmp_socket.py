"""The ICMP socket choice: unprivileged first; a clear error naming the sysctl when forbidden."""

import errno
import os
import socket
from collections.abc import Iterator

import pytest

from chm_exporter.config import IcmpSettings
from chm_exporter.errors import IcmpProbeError
from chm_exporter.icmp.echo import close_echo_engine
from chm_exporter.probers import icmp


@pytest.fixture(autouse=True)
def _no_engine_left() -> Iterator[None]:
    close_echo_engine()
    yield
    close_echo_engine()


def _forbidden(family: int, kind: int, proto: int) -> socket.socket:
    raise PermissionError(errno.EACCES, "Permission denied")


async def test_forbidden_datagram_socket_names_the_sysctl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", _forbidden)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)  # the module echo reads it from
    with pytest.raises(IcmpProbeError, match=r"net\.ipv4\.ping_group_range"):
        icmp.echo_socket("127.0.0.1", IcmpSettings())


async def test_datagram_socket_opens_unprivileged_by_default() -> None:
    sock = icmp.echo_socket("127.0.0.1", IcmpSettings(dont_fragment=True))
    assert sock.privileged is False


def test_address_hash_is_fnv1a_32_as_blackbox() -> None:
    # reference values of FNV-1a 32-bit (the offset basis for "", and "a")
    assert icmp._fnv32a("") == 0x811C9DC5
    assert icmp._fnv32a("a") == 0xE40C292C
