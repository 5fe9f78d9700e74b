"""gufo-snmp behind the seam, against loopback sockets: a closed port is refused at once, a
reply that makes the Rust core panic is a LibraryPanicError, every socket is closed when the
walker is done, without a garbage collection, and a client registers its socket's reader once,
dropping the datagrams nobody waits for."""

from __future__ import annotations

import asyncio
import gc
import os
import select
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial

import pytest
from pydantic import SecretStr

from chm_exporter.config import CommunityAuth, SnmpSettings
from chm_exporter.errors import SnmpProbeError
from chm_exporter.probelog import ProbeLog
from chm_exporter.snmp.client import LibraryPanicError, RefusedError, Varbinds
from chm_exporter.snmp.session import GufoClient
from chm_exporter.snmp.walker import Walker
from chm_exporter.walk import WalkPlan, WalkResult
from tests.servers.fixtures import ProxyFactory
from tests.servers.hostile_agent import HostileAgent

AUTH = CommunityAuth(version="2c")
NORMAL = CommunityAuth(version="2c", community=SecretStr("normal"))
SYS_NAME = "1.3.6.1.2.1.1.5.0"
SYS_DESCR = "1.3.6.1.2.1.1.1.0"
IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
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


@pytest.fixture
async def hostile_agent() -> AsyncIterator[HostileAgent]:
    """The hostile agent on loopback (community ``normal`` answers as a plain agent)."""
    async with HostileAgent() as agent:
        yield agent


async def test_the_reader_is_added_once_per_client_and_removed_at_close(
    hostile_agent: HostileAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    calls: list[str] = []
    for name in ("add_reader", "remove_reader"):
        real = getattr(loop, name)
        monkeypatch.setattr(loop, name, partial(_counted, calls, name, real))
    client = GufoClient("127.0.0.1", hostile_agent.port, NORMAL, 10)
    assert await client.get_many([SYS_NAME], 2.0) == {SYS_NAME: b"hostile"}
    rows: Varbinds = []

    def take(batch: Varbinds) -> bool:
        rows.extend(batch)
        return True

    await client.walk(IF_DESCR, 2).run(take, lambda: 2.0)
    assert rows == [(f"{IF_DESCR}.{i}", f"eth{i}".encode()) for i in (1, 2, 3)]
    assert client.pdus_sent == 3  # the GET and two GETBULKs of 2 (the second left the column)
    rows.clear()  # the MIB's last column: its end is the end of the agent's MIB view
    await client.walk(IF_HIGH_SPEED, 5).run(take, lambda: 2.0)
    assert [oid for oid, _ in rows] == [f"{IF_HIGH_SPEED}.{i}" for i in (1, 2, 3)]
    assert calls == ["add_reader"]
    client.close()
    client.close()
    assert calls == ["add_reader", "remove_reader"]


async def test_a_reply_after_its_timeout_is_dropped_and_not_taken_for_the_next(
    hostile_agent: HostileAgent, udp_delay_proxy: ProxyFactory
) -> None:
    proxy = udp_delay_proxy("127.0.0.1", hostile_agent.port, 0.3)
    client = GufoClient("127.0.0.1", proxy.port, NORMAL, 10)
    with pytest.raises(TimeoutError):
        await client.get_many([SYS_NAME], 0.1)
    await asyncio.sleep(0.4)  # the late reply arrives while nothing waits: read and dropped
    assert proxy.replies == 1
    assert client._session is not None
    assert select.select([client._session._fd], [], [], 0)[0] == []  # the reader never spins
    assert await client.get_many([SYS_DESCR], 2.0) == {SYS_DESCR: b"hostile test agent"}
    client.close()


async def test_copies_and_other_ids_flooding_in_are_dropped(hostile_agent: HostileAgent) -> None:
    flood = CommunityAuth(version="2c", community=SecretStr("flood"))
    client = GufoClient("127.0.0.1", hostile_agent.port, flood, 10)
    for oid, value in [(SYS_NAME, b"hostile"), (SYS_DESCR, b"hostile test agent")] * 3:
        assert await client.get_many([oid], 2.0) == {oid: value}
    client.close()


def _counted(calls: list[str], name: str, real: Callable[..., object], *args: object) -> object:
    calls.append(name)
    return real(*args)


async def test_one_timer_per_client_and_each_request_waits_its_own_timeout(
    hostile_agent: HostileAgent, udp_delay_proxy: ProxyFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    timers: list[object] = []
    real_call_at = loop.call_at

    def call_at(when: float, callback: Callable[..., object], *args: object) -> asyncio.TimerHandle:
        if getattr(callback, "__name__", "") == "_expire":
            timers.append(callback)
        return real_call_at(when, callback, *args)

    monkeypatch.setattr(loop, "call_at", call_at)
    direct = GufoClient("127.0.0.1", hostile_agent.port, NORMAL, 10)
    rows: Varbinds = []

    def take(batch: Varbinds) -> bool:
        rows.extend(batch)
        return True

    await direct.walk(IF_DESCR, 1).run(take, lambda: 2.0)
    assert direct.pdus_sent == 4
    assert len(rows) == 3
    assert len(timers) == 1  # one timer for the four requests, not one each
    direct.close()

    proxy = udp_delay_proxy("127.0.0.1", hostile_agent.port, 0.3)
    client = GufoClient("127.0.0.1", proxy.port, NORMAL, 10)
    assert await client.get_many([SYS_NAME], 0.5) == {SYS_NAME: b"hostile"}
    # the timer armed for the first request fires 0.2 s into this one and re-arms for the rest
    assert await client.get_many([SYS_DESCR], 1.0) == {SYS_DESCR: b"hostile test agent"}
    started = time.monotonic()
    with pytest.raises(TimeoutError):  # a shorter timeout than the pending timer's: re-armed
        await client.get_many([SYS_NAME], 0.1)
    assert time.monotonic() - started < 0.3  # the reply came at 0.3 s: not waited for
    client.close()
    assert client._session is None
