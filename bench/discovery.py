"""Time and CPU to sweep a /20 (4,096 addresses) with 40 answering agents, the rest silent.

    .venv/bin/python -m bench.discovery [--rates 200,2000] [--network 127.16.0.0/20]

The /20 is inside 127.0.0.0/8, so every address is local: one net-snmp snmpd answers on 40 of
them (``agentAddress udp:127.16.0.100:P,...``); at the 4,056 others nothing listens, and the
kernel answers each request with an ICMP port unreachable at once. The sweep's socket is not
connected and does not ask for ICMP errors, so those answers are never read: every such
address costs the sweep its full rounds (``retries + 1`` requests, then ``timeout``), exactly as
an address that drops packets does. The bench checks that by the packet count.

Runs the discovery job in this process (no HTTP): process CPU (user + system) and wall time of
one run, peak file descriptors during it, and the largest RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import resource
import time

from prometheus_client import CollectorRegistry

from chm_exporter.config import LoadedConfig, parse_config
from chm_exporter.discovery.runner import Discovery
from chm_exporter.profiles.loader import load_profiles
from chm_exporter.selfmetrics import DiscoveryMetrics
from tests.servers.loopback import MultiSnmpd
from tests.servers.ports import free_udp_port

ANSWERING = 40
DEFAULT_RATE = 200  # the job's default (chm_exporter/discovery/model.py)


def agent_addresses(network: ipaddress.IPv4Network, count: int) -> list[str]:
    """`count` addresses spread evenly over the network's hosts."""
    hosts = list(network.hosts())
    step = len(hosts) // count
    return [str(hosts[i * step + step // 2]) for i in range(count)]


def config_text(network: str, port: int, rate: float) -> str:
    return f"""\
auths:
  public_v2: {{version: 2c, community: public}}
discovery:
  jobs:
    - name: bench
      networks: [{network}]
      auths: [public_v2]
      port: {port}
      rate: {rate}
      crawl: {{max_depth: 0}}
"""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def one_run(loaded: LoadedConfig) -> dict[str, float]:
    registry = CollectorRegistry()
    discovery = Discovery(lambda: loaded, DiscoveryMetrics(registry))
    job = loaded.config.discovery.jobs[0]
    peak_fds = open_fds()

    async def watch() -> None:
        nonlocal peak_fds
        while True:
            peak_fds = max(peak_fds, open_fds())
            await asyncio.sleep(0.05)

    watcher = asyncio.create_task(watch())
    base_fds = open_fds()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    report = await discovery.run_once(job)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    watcher.cancel()
    packets = registry.get_sample_value(
        "chm_exporter_discovery_packets_sent_total", {"discovery_job": "bench"}
    )
    return {
        "rate": job.rate,
        "addresses": report.swept,
        "answered": report.answered_sweep,
        "identified": report.identified,
        "packets": packets or 0,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "extra_fds_peak": peak_fds - base_fds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default=f"{DEFAULT_RATE},2000")
    parser.add_argument("--network", default="127.16.0.0/20")
    args = parser.parse_args()
    network = ipaddress.IPv4Network(args.network)
    agents = agent_addresses(network, ANSWERING)
    port = free_udp_port(agents[0])
    profiles = load_profiles([])
    results = []
    with MultiSnmpd(agents, port, "public", "bench-agent"):
        for rate in (float(r) for r in args.rates.split(",")):
            config = parse_config(config_text(args.network, port, rate))
            loaded = LoadedConfig(config, None, profiles)
            result = asyncio.run(one_run(loaded))
            silent = result["addresses"] - result["answered"]
            # One request per address, one retry per silent address (retries: 1), no more.
            assert result["packets"] == result["addresses"] + silent, result
            assert result["identified"] == ANSWERING, result
            # Never faster than the rate (the run also waits for replies and identifies).
            assert result["wall_s"] >= result["packets"] / rate, result
            results.append(result)
            print(json.dumps(result), flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"max_rss_mib": round(rss / 1024, 1)}))


if __name__ == "__main__":
    main()
