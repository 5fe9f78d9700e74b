"""Scrape time and exporter CPU for the largest recorded device (junos_ex4600mp, 854
interfaces) with module=auto, with and without the per-device lookup cache.

    .venv/bin/python -m bench.largest_device [--scrapes 10]

snmpsim serves the recording on loopback; it is pure Python and slow, so wall time here is
mostly the simulator's. The exporter's CPU per scrape (utime+stime from /proc) is the number
to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.run import Process, proc_cpu_seconds, running, wait_http
from tests.servers.ports import free_tcp_port
from tests.servers.process import exporter_command
from tests.servers.snmpsim import Snmpsim

DEVICE = "juniper_junos/junos_ex4600mp"
CONFIG = f"""\
auths:
  ex4600: {{version: 2c, community: {DEVICE}}}
modules:
  cached:
    timeout: 120
    snmp: {{profiles: [auto], timeout: 5}}
  nocache:
    timeout: 120
    snmp: {{profiles: [auto], timeout: 5, lookup_cache_seconds: 0}}
"""


async def scrapes(base: str, target: str, module: str, count: int, pid: int) -> dict[str, float]:
    walls: list[float] = []
    cpu_before = proc_cpu_seconds(pid)
    samples = 0
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            started = time.perf_counter()
            url = f"{base}/probe?target={target}&auth=ex4600&module={module}"
            async with session.get(
                url, headers={"X-Prometheus-Scrape-Timeout-Seconds": "120"}
            ) as r:
                text = await r.text()
            walls.append(time.perf_counter() - started)
            assert 'probe_success{prober="snmp"} 1' in text, text[-2000:]
            samples = sum(1 for ln in text.splitlines() if ln and not ln.startswith("#"))
    cpu = proc_cpu_seconds(pid) - cpu_before
    return {
        "wall_p50_s": statistics.median(walls),
        "cpu_per_scrape_ms": cpu / count * 1000,
        "samples": samples,
    }


async def main_async(count: int) -> None:
    with Snmpsim(data_files=[DEVICE]) as sim, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "chm.yml"
        config.write_text(CONFIG)
        port = free_tcp_port()
        exporter = Process(
            "chm",
            exporter_command(config, f"127.0.0.1:{port}", "--log.level", "warn"),
            Path(tmp),
        )
        with running(exporter):
            base = f"http://127.0.0.1:{port}"
            await wait_http(exporter, f"{base}/-/healthy")
            target = f"127.0.0.1:{sim.port}"
            print(f"{DEVICE}: {count} scrapes per module, after one warm-up each")
            print(f"{'module':10} {'wall p50 s':>10} {'CPU ms/scrape':>14} {'samples':>8}")
            for module in ("nocache", "cached"):
                await scrapes(base, target, module, 1, exporter.pid)  # warm-up: profile choice
                got = await scrapes(base, target, module, count, exporter.pid)
                print(
                    f"{module:10} {got['wall_p50_s']:10.3f} {got['cpu_per_scrape_ms']:14.1f} "
                    f"{got['samples']:8d}"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scrapes", type=int, default=10)
    asyncio.run(main_async(parser.parse_args().scrapes))


if __name__ == "__main__":
    main()
