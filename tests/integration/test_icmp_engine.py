"""The echo engine against real kernels' answers.

- The raw-socket fallback: in a fresh network namespace ``net.ipv4.ping_group_range`` is "1 0"
  (datagram ICMP forbidden to every group), so the exporter, running as root, must ping over raw
  sockets; a probe there goes through the whole app (HTTP handler, prober, echo engine).
- ICMP errors: a host in a namespace of our own that answers every echo with "communication
  administratively prohibited" (a routing rule, as a filtering router would): each echo fails at
  once with that reason, read from the datagram socket's error queue.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chm_exporter.icmp.echo import EchoError, SocketKey, close_echo_engine, echo_engine
from tests.servers.netns import NetnsHost

ROOT = Path(__file__).resolve().parents[2]

# Runs inside the namespace: probe 127.0.0.1 and ::1 through the app, report what it saw.
_SCRIPT = """
import asyncio, json, sys
from pathlib import Path
from aiohttp.test_utils import TestClient, TestServer
from chm_exporter.config import load_config
from chm_exporter.icmp import echo
from chm_exporter.server import create_app

async def main():
    path = Path(sys.argv[1])
    path.write_text("modules:\\n  ping:\\n    icmp: {count: 2, interval: 0.01}\\n")
    out = {"ping_group_range": Path("/proc/sys/net/ipv4/ping_group_range").read_text().split()}
    async with TestClient(TestServer(create_app(load_config(path)))) as client:
        for target in ("127.0.0.1", "::1"):
            resp = await client.get("/probe", params={"target": target, "module": "ping"})
            out[target] = await resp.text()
        engine = echo.echo_engine()
        out["privileged"] = [engine.socket(echo.SocketKey(v)).privileged for v in (4, 6)]
    print(json.dumps(out))

asyncio.run(main())
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (a network namespace, raw sockets)")
def test_root_without_datagram_icmp_pings_over_raw_sockets(tmp_path: Path) -> None:
    unshare, ip = shutil.which("unshare"), shutil.which("ip") or "/usr/sbin/ip"
    assert unshare is not None, "util-linux's unshare is missing"
    shell = f'{ip} link set lo up && exec "$0" -c "$1" "$2"'
    done = subprocess.run(
        [unshare, "--net", "sh", "-c", shell, sys.executable, _SCRIPT, str(tmp_path / "c.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["ping_group_range"] == ["1", "0"]  # datagram ICMP really is forbidden there
    assert got["privileged"] == [True, True]
    for target in ("127.0.0.1", "::1"):
        assert 'probe_success{prober="icmp"} 1' in got[target], got[target]
        assert "probe_icmp_packets_received 2" in got[target], got[target]


async def test_an_icmp_error_fails_the_echo_at_once_with_its_reason(
    answering_netns: NetnsHost,
) -> None:
    def in_namespace(*argv: str) -> None:
        subprocess.run(["ip", "netns", "exec", answering_netns.name, *argv], check=True)

    # Route every ICMP packet arriving from the root side to a "prohibit" rule (a router's
    # filter); the namespace then forwards nothing, it answers with the ICMP error instead.
    in_namespace("sysctl", "-qw", "net.ipv4.conf.all.forwarding=1")
    link = answering_netns.ns_link
    in_namespace("ip", "rule", "add", "pref", "10", "iif", link, "ipproto", "icmp", "prohibit")
    in_namespace("ip", "rule", "del", "pref", "0", "lookup", "local")
    in_namespace("ip", "rule", "add", "pref", "100", "lookup", "local")
    close_echo_engine()
    try:
        sock = echo_engine().socket(SocketKey(4))
        assert not sock.privileged
        for _ in range(2):
            started = time.monotonic()
            with pytest.raises(EchoError) as failed:
                await sock.echo(answering_netns.address, b"payload", 5.0)
            assert time.monotonic() - started < 2.5  # not the 5 s timeout
            reason = f"communication administratively prohibited from {answering_netns.address}"
            assert failed.value.reason == reason
        assert sock.waiting == 0
        assert 0 < await sock.echo("127.0.0.1", b"payload", 1.0) < 1  # the socket still works
    finally:
        close_echo_engine()
