"""SSH prober: probes per second, exporter CPU per probe and memory per open session, with
emulated devices, reused sessions against a new login every scrape.

    .venv/bin/python -m bench.ssh [--devices 50] [--rounds 5] [--platform cisco_iosxe]

The device emulator (tests/servers/ssh_device.py, asyncssh, answering with recorded IOS-XE
output: show version, processes cpu, interfaces, neighbours, logging, environment) runs in its
own process, so the exporter's CPU (utime+stime from /proc) is the exporter's alone. Each round
probes every device at once. Memory per session: the exporter's RSS with every session open,
less its RSS after the same probes with no session left open, divided by the devices.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

from bench.run import Process, proc_cpu_seconds, proc_memory_mib, running, wait_http
from tests.servers.ports import free_tcp_port
from tests.servers.process import exporter_command, stop_process

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp: Path, platform: str) -> Path:
    ssh = {
        "auth": "lab",
        "platform": platform,
        "known_hosts_file": str(tmp / "pins"),
        "command_timeout": 30,
        "login_timeout": 30,
    }
    config = {
        "ssh_auths": {"lab": {"username": "netops", "password": "s3cret-pass"}},
        "modules": {
            "reuse": {"timeout": 60, "ssh": ssh},
            "relogin": {"timeout": 60, "ssh": {**ssh, "reuse": False}},
        },
    }
    path = tmp / "chm.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def _round(session: aiohttp.ClientSession, base: str, ports: list[int], module: str) -> None:
    async def one(port: int) -> None:
        url = f"{base}/probe?target=127.0.0.1:{port}&module={module}"
        async with session.get(url, headers={"X-Prometheus-Scrape-Timeout-Seconds": "60"}) as r:
            text = await r.text()
        assert 'probe_success{prober="ssh"} 1' in text, text[-1500:]

    await asyncio.gather(*(one(p) for p in ports))


async def _measure(
    base: str, ports: list[int], module: str, rounds: int, pid: int
) -> tuple[float, float]:
    """(probes per second, exporter CPU ms per probe) over `rounds` rounds of every device."""
    async with aiohttp.ClientSession() as session:
        await _round(session, base, ports, module)  # warm-up (and the logins, for reuse)
        cpu = proc_cpu_seconds(pid)
        started = time.perf_counter()
        for _ in range(rounds):
            await _round(session, base, ports, module)
        wall = time.perf_counter() - started
        cpu = proc_cpu_seconds(pid) - cpu
    probes = rounds * len(ports)
    return probes / wall, cpu / probes * 1000


async def main_async(ports: list[int], rounds: int, platform: str) -> None:
    devices = len(ports)
    with tempfile.TemporaryDirectory() as tmp:
        config = _config(Path(tmp), platform)
        port = free_tcp_port()
        flags = ("--log.level", "error", "--ssh.max-sessions", str(devices * 2))
        exporter = Process("chm", exporter_command(config, f"127.0.0.1:{port}", *flags), Path(tmp))
        with running(exporter):
            base = f"http://127.0.0.1:{port}"
            await wait_http(exporter, f"{base}/-/healthy")
            print(f"{devices} emulated {platform} devices, {rounds} rounds of all at once")
            relogin = await _measure(base, ports, "relogin", rounds, exporter.pid)
            rss_none = proc_memory_mib(exporter.pid)[0]
            reuse = await _measure(base, ports, "reuse", rounds, exporter.pid)
            rss_open = proc_memory_mib(exporter.pid)[0]
            print(f"{'mode':22} {'probes/s':>9} {'CPU ms/probe':>13}")
            print(f"{'new login each scrape':22} {relogin[0]:9.1f} {relogin[1]:13.1f}")
            print(f"{'reused sessions':22} {reuse[0]:9.1f} {reuse[1]:13.1f}")
            per_session = (rss_open - rss_none) * 1024 / devices
            print(
                f"RSS {rss_none:.1f} MiB with no session open, {rss_open:.1f} MiB with "
                f"{devices} open: {per_session:.0f} KiB per session"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--platform", default="cisco_iosxe")
    args = parser.parse_args()
    argv = [sys.executable, "-m", "tests.servers.ssh_device", "--platform", args.platform]
    emulator = subprocess.Popen(
        [*argv, "--count", str(args.devices)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert emulator.stdout is not None
        ports = [int(emulator.stdout.readline()) for _ in range(args.devices)]
        asyncio.run(main_async(ports, args.rounds, args.platform))
    finally:
        stop_process(emulator, 5)


if __name__ == "__main__":
    main()
