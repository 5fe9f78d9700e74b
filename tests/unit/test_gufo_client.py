"""gufo-snmp behind the seam, against loopback sockets: a closed port is refused at once, a
reply that makes the Rust core panic is a LibraryPanicError, and every socket is closed when the
walker is done, without a garbage collection."""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from chm_exporter.config import CommunityAuth, SnmpSettings
from chm_exporter.errors import SnmpProbeError
from chm_exporter.probelog import ProbeLog
from chm_exporter.snmp.client import LibraryPanicError, RefusedError
from chm_exporter.snmp.session import GufoClient
from chm_exporter.snmp.walker import Walker
from chm_exporter.walk import WalkPlan, WalkResult

AUTH = CommunityAuth(version="2c")
SYS_NAME = "1.3.6.1.2.1.1.5.0"
# A BER sequence with a 4-byte length and no bytes of it: gufo-snmp 0.13 panics
# ("index out of bounds: the len is 3 but the index is 3").
PANIC_REPLY = bytes.fromhex("308400")


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def no_gc() -> Iterator[None]:
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.fixture
async def panicking_agent() -> AsyncIterator[int]:
    """A UDP agent on loopback answering every request with PANIC_REPLY."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()

    def reply() -> None:
        try:
            _, addr = sock.recvfrom(65535)
        except BlockingIOError:
            return
        sock.sendto(PANIC_REPLY, addr)

    loop.add_reader(sock.fileno(), reply)
    try:
        yield sock.getsockname()[1]
    finally:
        loop.remove_reader(sock.fileno())
        sock.close()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_closed_port_is_refused_at_once() -> None:
    client = GufoClient("127.0.0.1", _closed_port(), AUTH, 10)
    started = time.monotonic()
    with pytest.raises(RefusedError):
        await client.get_many([SYS_NAME], 2.0)
    assert time.monotonic() - started < 0.5
    client.close()


async def test_a_panic_in_the_library_is_a_library_panic_error(panicking_agent: int) -> None:
    client = GufoClient("127.0.0.1", panicking_agent, AUTH, 10)
    with pytest.raises(LibraryPanicError, match="index out of bounds"):
        await client.get_many([SYS_NAME], 2.0)
    client.close()


@pytest.mark.usefixtures("no_gc")
@pytest.mark.parametrize("behaviour", ["panic", "refused", "deadline"])
async def test_sockets_are_closed_on_every_path_without_gc(
    panicking_agent: int, behaviour: str
) -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = {
        "panic": panicking_agent,
        "refused": _closed_port(),
        "deadline": silent.getsockname()[1],
    }[behaviour]
    settings = SnmpSettings(walk_concurrency=8, timeout=5)
    plan = WalkPlan([SYS_NAME], [f"1.3.6.1.2.1.2.2.1.{i}" for i in range(1, 20)])
    before = _open_fds()
    loop = asyncio.get_running_loop()
    for _ in range(20):
        walker = Walker(
            "127.0.0.1", port, AUTH, settings, ProbeLog("t", "t"), deadline=loop.time() + 0.05
        )
        with pytest.raises((SnmpProbeError, TimeoutError)):
            await walker.run(plan, WalkResult())
        assert _open_fds() == before
    silent.close()
