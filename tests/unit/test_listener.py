"""The listening site: at most max_connections open (the rest wait in the kernel's queue, not
refused), and while the probes are at their cap a probe request is a 503 from the triage
protocol, while /metrics still goes through."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from chm_exporter.config import load_config
from chm_exporter.listener import LimitedSite
from chm_exporter.server import create_app


@pytest.fixture
async def runner(tmp_path: Path) -> AsyncIterator[web.AppRunner]:
    config = tmp_path / "chm.yml"
    config.write_text("modules:\n  ping:\n    icmp: {count: 1}\n")
    runner = web.AppRunner(create_app(load_config(config)), access_log=None)
    await runner.setup()
    yield runner
    await runner.cleanup()


async def _get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    try:
        return await reader.read()
    finally:
        writer.close()


async def test_past_the_bound_a_connection_waits_for_one_to_close(
    runner: web.AppRunner,
) -> None:
    site = LimitedSite(runner, "127.0.0.1", 0, 2)
    await site.start()
    port = runner.addresses[0][1]
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    await asyncio.sleep(0.1)
    third = asyncio.ensure_future(_get(port, "/-/healthy"))
    await asyncio.sleep(0.3)
    assert not third.done()  # queued in the kernel, not accepted, not refused
    idle[0][1].close()
    answer = await asyncio.wait_for(third, 2)
    assert answer.startswith(b"HTTP/1.1 200")
    idle[1][1].close()


async def test_at_the_probe_cap_a_probe_is_a_503_and_metrics_still_answer(
    runner: web.AppRunner,
) -> None:
    refused: list[int] = []
    site = LimitedSite(
        runner,
        "127.0.0.1",
        0,
        100,
        overloaded=lambda: True,
        refused=lambda: refused.append(1),
    )
    await site.start()
    port = runner.addresses[0][1]
    answer = await _get(port, "/probe?target=127.0.0.1&module=ping")
    assert answer.startswith(b"HTTP/1.1 503")
    assert b"Retry-After: 1" in answer
    assert answer.endswith(b"retry later\n")
    assert refused == [1]
    metrics = await _get(port, "/metrics")
    assert metrics.startswith(b"HTTP/1.1 200")
    assert b"chm_exporter_build_info" in metrics
