"""The echo engine on real sockets: shared sockets, replies matched to the right echo, replies
for nobody dropped, timeouts and cancellations forgetting their echo, packet settings on the
wire, closing with the server."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chm_exporter.config import load_config
from chm_exporter.icmp import echo, packet
from chm_exporter.icmp.echo import EchoError, EchoSocket, SocketKey, echo_engine
from chm_exporter.server import create_app
from tests.servers.netns import NetnsHost
from tests.unit.clients import ClientFactory

PAYLOAD = b"CHM exporter echo test payload"


@pytest.fixture
def engine_closed() -> Iterator[None]:
    """Each test starts with no engine and leaves none open."""
    echo.close_echo_engine()
    yield
    echo.close_echo_engine()


def _reply(sock: EchoSocket, seq: int, ident: int | None = None) -> bytes:
    """An echo reply as a datagram socket reads it."""
    request = packet.echo_request(4, sock.ident if ident is None else ident, seq, PAYLOAD, False)
    return bytes([0]) + request[1:]


def _is_request(datagram: bytes, ident: int, seq: int) -> bool:
    """Whether a raw socket's datagram (IPv4 header first) is our echo request."""
    icmp = datagram[(datagram[0] & 0x0F) * 4 :]
    return icmp[0] == 8 and struct.unpack_from("!HH", icmp, 4) == (ident, seq)


@pytest.mark.usefixtures("engine_closed")
async def test_one_socket_per_family_and_settings() -> None:
    engine = echo_engine()
    v4 = engine.socket(SocketKey.of(4, 64, False))
    assert engine.socket(SocketKey.of(4, 64, False)) is v4
    assert engine.socket(SocketKey.of(4, 7, False)) is not v4
    assert engine.socket(SocketKey.of(4, 64, True)) is not v4
    # don't-fragment is an IPv4 setting: IPv6 shares one socket either way
    assert engine.socket(SocketKey.of(6, 64, True)) is engine.socket(SocketKey.of(6, 64, False))
    assert echo_engine() is engine
    assert v4.privileged is False  # the host allows datagram ICMP (ping_group_range)


@pytest.mark.usefixtures("engine_closed")
async def test_concurrent_echoes_get_their_own_replies(blackhole_netns: NetnsHost) -> None:
    sock = echo_engine().socket(SocketKey(4))
    loopback = [f"127.0.0.{i % 8 + 1}" for i in range(400)]
    silent = [blackhole_netns.address] * 20

    async def one(address: str) -> tuple[str, float | str]:
        wait = 0.3 if address == blackhole_netns.address else 3.0
        try:
            return address, await sock.echo(address, PAYLOAD, wait)
        except EchoError as exc:
            return address, exc.reason

    mixed = [*loopback[:200], *silent, *loopback[200:]]
    results = await asyncio.gather(*(one(address) for address in mixed))
    for address, result in results:
        if address == blackhole_netns.address:
            assert result == "no reply within 0.300s"
        else:
            assert isinstance(result, float), (address, result)
            assert 0 < result < 3
    assert sock.waiting == 0


@pytest.mark.usefixtures("engine_closed")
async def test_a_reply_completes_the_echo_it_answers_only() -> None:
    sock = echo_engine().socket(SocketKey(4))
    first = sock.send("127.0.0.2", PAYLOAD)
    second = sock.send("127.0.0.3", PAYLOAD)
    assert first[1] != second[1]
    # Before the loop reads the real replies: a reply for `second`, received "100 s later".
    sock.received(_reply(sock, second[1]), "127.0.0.3", time.perf_counter() + 100)
    assert await sock.reply(second, 1.0) > 99  # the injected reply, not the real one
    assert 0 < await sock.reply(first, 1.0) < 1  # the real reply from 127.0.0.2
    assert sock.waiting == 0


@pytest.mark.usefixtures("engine_closed")
async def test_replies_for_nobody_are_dropped(blackhole_netns: NetnsHost) -> None:
    sock = echo_engine().socket(SocketKey(4))
    key = sock.send(blackhole_netns.address, PAYLOAD)
    later = time.perf_counter() + 100
    sock.received(_reply(sock, key[1]), "127.0.0.9", later)  # another address
    sock.received(_reply(sock, (key[1] + 1) & 0xFFFF), blackhole_netns.address, later)  # seq
    sock.received(_reply(sock, key[1], ident=sock.ident ^ 1), blackhole_netns.address, later)
    sock.received(packet.echo_request(4, sock.ident, key[1], PAYLOAD, False), "x", later)
    sock.received(b"\x00\x00", blackhole_netns.address, later)  # truncated
    assert sock.waiting == 1
    with pytest.raises(EchoError, match=r"no reply within 0\.200s"):
        await sock.reply(key, 0.2)
    assert sock.waiting == 0
    sock.received(_reply(sock, key[1]), blackhole_netns.address, later)  # too late: nobody
    assert 0 < await sock.echo("127.0.0.1", PAYLOAD, 1.0) < 1  # the socket still works


@pytest.mark.usefixtures("engine_closed")
async def test_a_cancelled_wait_leaves_no_entry_behind() -> None:
    sock = echo_engine().socket(SocketKey(6))
    task = asyncio.create_task(sock.echo("::1", PAYLOAD, 5.0))
    await asyncio.sleep(0)  # sent, waiting
    assert sock.waiting == 1
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert sock.waiting == 0
    await asyncio.sleep(0.05)  # its reply arrives and is dropped
    assert sock.waiting == 0
    assert 0 < await sock.echo("::1", PAYLOAD, 1.0) < 1


@pytest.mark.usefixtures("engine_closed")
async def test_a_failed_send_fails_its_echo_at_once() -> None:
    sock = echo_engine().socket(SocketKey(4))
    started = time.monotonic()
    # A broadcast address without SO_BROADCAST: the kernel refuses the send (EACCES).
    with pytest.raises(EchoError, match=r"^send failed: Permission denied$"):
        await sock.echo("255.255.255.255", PAYLOAD, 5.0)
    assert time.monotonic() - started < 1
    assert sock.waiting == 0


@pytest.mark.usefixtures("engine_closed")
async def test_closing_fails_waiting_echoes_and_the_next_use_reopens() -> None:
    engine = echo_engine()
    sock = engine.socket(SocketKey(4))
    task = asyncio.create_task(sock.echo("127.0.0.1", PAYLOAD, 5.0))
    await asyncio.sleep(0)
    echo.close_echo_engine()
    with pytest.raises(EchoError, match="closed"):
        await task
    assert sock.waiting == 0
    again = echo_engine()
    assert again is not engine
    assert 0 < await again.socket(SocketKey(4)).echo("127.0.0.1", PAYLOAD, 1.0) < 1


@pytest.mark.usefixtures("engine_closed")
@pytest.mark.parametrize(("ttl", "dont_fragment"), [(7, True), (200, False)])
async def test_ttl_and_dont_fragment_are_on_the_wire(ttl: int, dont_fragment: bool) -> None:
    sock = echo_engine().socket(SocketKey.of(4, ttl, dont_fragment))
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as capture:
        capture.setblocking(False)
        key = sock.send("127.0.0.1", PAYLOAD)
        await sock.reply(key, 1.0)
        seen = []
        with contextlib.suppress(BlockingIOError):
            while True:
                seen.append(capture.recv(4096))
    requests = [d for d in seen if _is_request(d, sock.ident, key[1])]
    assert len(requests) == 1
    assert requests[0][8] == ttl
    if dont_fragment:  # without it the kernel decides (path MTU discovery sets DF too)
        assert requests[0][6] & 0x40  # the IPv4 DF flag


@pytest.mark.usefixtures("engine_closed")
async def test_forbidden_datagram_sockets_fall_back_to_raw_as_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_socket = socket.socket

    def datagram_forbidden(family: int, kind: int, proto: int) -> socket.socket:
        if kind == socket.SOCK_DGRAM:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_socket(family, kind, proto)

    monkeypatch.setattr(socket, "socket", datagram_forbidden)
    sock = echo_engine().socket(SocketKey(4))
    monkeypatch.undo()
    assert sock.privileged
    # On loopback the raw socket also reads our own requests: only the reply completes it.
    assert 0 < await sock.echo("127.0.0.1", PAYLOAD, 1.0) < 1
    assert sock.waiting == 0


@pytest.mark.usefixtures("engine_closed")
async def test_the_server_closes_the_sockets_at_cleanup(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    path = tmp_path / "chm.yml"
    path.write_text(yaml.safe_dump({"modules": {"ping": {"icmp": {"count": 1}}}}))
    client = await aiohttp_client(create_app(load_config(path)))
    resp = await client.get("/probe", params={"target": "127.0.0.1", "module": "ping"})
    assert 'probe_success{prober="icmp"} 1' in await resp.text()
    sock = echo_engine().socket(SocketKey(4))
    await client.close()
    assert echo._engine is None
    with pytest.raises(EchoError, match="closed"):
        await sock.echo("127.0.0.1", PAYLOAD, 1.0)
