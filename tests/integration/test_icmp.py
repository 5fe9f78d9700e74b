"""ICMP against loopback (IPv4 and IPv6) and a silent host in a network namespace of our own."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.integration.exposition import SampleKey, parse_exposition
from tests.servers.netns import NetnsHost
from tests.unit.clients import Client, ClientFactory


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    config = {
        "modules": {
            "icmp": {"icmp": {"count": 3, "interval": 0.05}},
            "icmp4": {"icmp": {"count": 2, "preferred_ip_protocol": "ip4"}},
            "icmp_short": {"timeout": 1.5, "icmp": {"count": 2, "interval": 0.1}},
        }
    }
    path = tmp_path / "chm.yml"
    path.write_text(yaml.safe_dump(config))
    return await aiohttp_client(create_app(load_config(path)))


async def _probe(client: Client, target: str, module: str = "icmp") -> dict[SampleKey, float]:
    resp = await client.get("/probe", params={"target": target, "module": module})
    assert resp.status == 200
    return parse_exposition(await resp.text())


@pytest.mark.parametrize(("target", "version"), [("127.0.0.1", 4), ("::1", 6), ("localhost", 4)])
async def test_loopback_answers(client: Client, target: str, version: int) -> None:
    module = "icmp4" if target == "localhost" else "icmp"
    got = await _probe(client, target, module)
    sent = got[("probe_icmp_packets_sent", ())]
    assert got[("probe_success", (("prober", "icmp"),))] == 1
    assert got[("probe_icmp_packets_received", ())] == sent
    assert sent == (2 if module == "icmp4" else 3)
    assert got[("probe_ip_protocol", ())] == version
    rtt = {dict(k[1])["stat"]: v for k, v in got.items() if k[0] == "probe_icmp_rtt_seconds"}
    assert set(rtt) == {"min", "avg", "max", "stddev"}
    assert 0 < rtt["min"] <= rtt["avg"] <= rtt["max"] < 1
    phases = {dict(k[1])["phase"] for k in got if k[0] == "probe_icmp_duration_seconds"}
    assert phases == {"resolve", "setup", "rtt"}


async def test_silent_host_is_probe_failure_within_the_deadline(
    client: Client, blackhole_netns: NetnsHost
) -> None:
    resp = await client.get(
        "/probe",
        params={"target": blackhole_netns.address, "module": "icmp_short", "debug": "true"},
    )
    assert resp.status == 200
    text = await resp.text()
    metrics = parse_exposition(
        text.split("returned:\n", 1)[1].split("\nModule configuration", 1)[0]
    )
    assert metrics[("probe_success", (("prober", "icmp"),))] == 0
    assert metrics[("probe_icmp_packets_received", ())] == 0
    assert metrics[("probe_icmp_packets_sent", ())] == 2
    assert f"no reply from {blackhole_netns.address}" in text
    assert metrics[("probe_duration_seconds", (("prober", "icmp"),))] < 1.5 + 0.1


async def test_answering_namespace_host_replies(client: Client, answering_netns: NetnsHost) -> None:
    # The control: the same topology, answering, shows the silence above is the black hole's.
    got = await _probe(client, answering_netns.address, "icmp_short")
    assert got[("probe_success", (("prober", "icmp"),))] == 1
