"""The resolver's own timeout and concurrency: a DNS server that never answers costs a probe of
a name its DNS timeout, holds at most the resolver's threads, and never delays a probe of a
literal address, another prober or the default executor; past --probe.max-in-flight a probe is
a 503 with Retry-After."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chm_exporter.config import load_config
from chm_exporter.resolver import Resolver
from chm_exporter.server import create_app
from chm_exporter.target import parse_target
from tests.unit.clients import ClientFactory

CONFIG = """\
modules:
  ping:
    timeout: 1
    icmp: {count: 1, interval: 0, preferred_ip_protocol: ip4}
"""


class _HungDns:
    """getaddrinfo as a DNS server that never answers does: it blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = 0
        self.lock = threading.Lock()

    def __call__(self, host: str, *_: object) -> list[tuple[Any, ...]]:
        with self.lock:
            self.started += 1
        self.release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


async def test_hung_lookups_time_out_and_hold_at_most_the_pool() -> None:
    dns = _HungDns()
    resolver = Resolver(timeout=0.3, max_concurrency=2, getaddrinfo=dns)
    try:
        started = time.monotonic()
        results = await asyncio.gather(
            *(resolver.resolve(parse_target(f"h{i}.example")) for i in range(6))
        )
        assert time.monotonic() - started < 0.3 + 0.2
        assert all(r.error is not None and "no answer in 0.300s" in r.error for r in results)
        assert dns.started == 2  # the other four waited for a slot, then gave up
        assert resolver.busy == 2
        # a literal address needs no thread; the default executor is free
        literal = await asyncio.wait_for(resolver.resolve(parse_target("127.0.0.1")), 0.05)
        assert literal.addresses == ("127.0.0.1",)
        loop = asyncio.get_running_loop()
        assert await asyncio.wait_for(loop.run_in_executor(None, lambda: 42), 0.5) == 42
        dns.release.set()
        for _ in range(100):
            if resolver.busy == 0:
                break
            await asyncio.sleep(0.01)
        assert resolver.busy == 0
    finally:
        dns.release.set()
        resolver.close()


async def test_a_lookup_never_outlives_the_probe_deadline() -> None:
    dns = _HungDns()
    resolver = Resolver(timeout=5, max_concurrency=1, getaddrinfo=dns)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await resolver.resolve(parse_target("h.example"), deadline=started + 0.2)
        assert loop.time() - started < 0.3
        assert result.error is not None
    finally:
        dns.release.set()
        resolver.close()


async def test_probes_keep_their_deadline_while_dns_hangs(
    tmp_path: Path, aiohttp_client: ClientFactory
) -> None:
    path = tmp_path / "chm.yml"
    path.write_text(CONFIG)
    dns = _HungDns()
    resolver = Resolver(timeout=0.5, max_concurrency=4, getaddrinfo=dns)
    client = await aiohttp_client(create_app(load_config(path), resolver=resolver))
    try:

        async def timed(target: str) -> tuple[float, str]:
            started = time.monotonic()
            resp = await client.get(f"/probe?target={target}&module=ping&debug=true")
            assert resp.status == 200
            return time.monotonic() - started, await resp.text()

        names = [timed(f"n{i}.example") for i in range(20)]
        literals = [timed("127.0.0.1") for _ in range(5)]
        results = await asyncio.gather(*names, *literals)
        for seconds, text in results[:20]:
            assert seconds < 1 + 0.1
            assert 'probe_success{prober="icmp"} 0' in text
            assert "cannot resolve" in text
        for seconds, _text in results[20:]:
            assert seconds < 0.5, "a literal target waited for the hung DNS"
        metrics = await (await client.get("/metrics")).text()
        assert "chm_exporter_dns_lookups_busy 4.0" in metrics
    finally:
        dns.release.set()


@pytest.mark.parametrize("limit", [1, 3])
async def test_past_max_in_flight_a_probe_is_a_503_with_retry_after(
    tmp_path: Path, aiohttp_client: ClientFactory, limit: int
) -> None:
    path = tmp_path / "chm.yml"
    path.write_text(CONFIG)
    dns = _HungDns()
    resolver = Resolver(timeout=0.5, getaddrinfo=dns)
    client = await aiohttp_client(
        create_app(load_config(path), resolver=resolver, max_in_flight=limit)
    )
    try:
        slow = [
            asyncio.ensure_future(client.get(f"/probe?target=n{i}.example&module=ping"))
            for i in range(limit)
        ]
        for _ in range(500):  # the probes' lookups have started (a thread's counter)
            if dns.started >= limit:
                break
            await asyncio.sleep(0.01)
        started = time.monotonic()
        resp = await client.get("/probe?target=127.0.0.1&module=ping")
        assert time.monotonic() - started < 0.2
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "1"
        assert (await resp.text()).count("\n") == 1
        for pending in slow:
            assert (await pending).status == 200
        resp = await client.get("/probe?target=127.0.0.1&module=ping")
        assert resp.status == 200
        metrics = await (await client.get("/metrics")).text()
        assert "chm_exporter_probes_rejected_total 1.0" in metrics
    finally:
        dns.release.set()
