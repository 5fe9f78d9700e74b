"""One deadline for all probers: a slow agent is cut off, the other probers' metrics stay."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.integration.exposition import parse_exposition
from tests.servers.fixtures import ProxyFactory
from tests.servers.snmpd import Snmpd
from tests.unit.clients import Client, ClientFactory


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    config = {
        "modules": {
            "both": {
                "timeout": 20,
                "snmp": {"profiles": ["system", "if_mib"], "timeout": 5, "walk_concurrency": 2},
                "icmp": {"count": 1},
            }
        }
    }
    path = tmp_path / "chm.yml"
    path.write_text(yaml.safe_dump(config))
    return await aiohttp_client(create_app(load_config(path), timeout_offset=0.5))


async def test_slow_agent_is_cut_at_scrape_timeout_minus_offset(
    client: Client, snmpd_server: Snmpd, udp_delay_proxy: ProxyFactory
) -> None:
    # Every reply held 0.4 s: 30 columns two at a time need about 6 s; the scrape allows 2.5 s,
    # of which the scalars' GETs (0.4-0.8 s) leave ample time for the partial results.
    proxy = udp_delay_proxy("127.0.0.1", snmpd_server.port, 0.4)
    started = time.monotonic()
    resp = await client.get(
        "/probe",
        params={"target": f"127.0.0.1:{proxy.port}", "module": "both", "debug": "true"},
        headers={"X-Prometheus-Scrape-Timeout-Seconds": "2.5"},
    )
    elapsed = time.monotonic() - started
    assert resp.status == 200
    text = await resp.text()
    assert "timeout=2.000s" in text  # 2.5 s scrape timeout minus the 0.5 s offset
    assert "deadline reached" in text
    metrics = parse_exposition(
        text.split("returned:\n", 1)[1].split("\nModule configuration", 1)[0]
    )
    assert metrics[("probe_success", (("prober", "snmp"),))] == 0
    assert metrics[("probe_success", (("prober", "icmp"),))] == 1  # the other prober's result
    # partial results: what arrived before the deadline (the scalars' GETs) is there
    assert any(k[0] == "chm_device_info" for k in metrics), text
    assert any(k[0] == "chm_device_uptime_seconds" for k in metrics), text
    assert elapsed < 2.0 + 0.5  # never later than the deadline (plus scheduling slack)


async def test_same_agent_without_delay_succeeds(client: Client, snmpd_server: Snmpd) -> None:
    resp = await client.get(
        "/probe",
        params={"target": f"127.0.0.1:{snmpd_server.port}", "module": "both"},
        headers={"X-Prometheus-Scrape-Timeout-Seconds": "10"},
    )
    metrics = parse_exposition(await resp.text())
    assert metrics[("probe_success", (("prober", "snmp"),))] == 1
