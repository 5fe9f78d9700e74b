"""Every recorded real device, served by snmpsim, probed through /probe with module=if_mib."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.integration import corpus
from tests.integration.exposition import parse_exposition
from tests.integration.harness import CORPUS_MODULE_TIMEOUT, probe_text, write_config
from tests.servers.snmpsim import Snmpsim
from tests.unit.clients import Client, ClientFactory

pytestmark = pytest.mark.corpus

DEVICES = corpus.communities()
OPER = "1.3.6.1.2.1.2.2.1.8"
HC_IN = "1.3.6.1.2.1.31.1.1.1.6"


@pytest.fixture(scope="module")
def corpus_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "profiles").mkdir()
    # A user profile reading a real Counter64 above 2**53 (IP-MIB ipSystemStatsHCInReceives).
    (folder / "profiles" / "ipstats.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "ipstats",
                "tables": [
                    {
                        "name": "ip",
                        "labels": {"ipversion": {"index": 0}},
                        "metrics": [
                            {
                                "name": "test_ip_in_octets_total",
                                "type": "counter",
                                "help": "IP-MIB ipSystemStatsHCInOctets 1.3.6.1.2.1.4.31.1.1.6",
                                "oid": "1.3.6.1.2.1.4.31.1.1.6",
                            }
                        ],
                    }
                ],
            }
        )
    )
    # Q-BRIDGE-MIB dot1qVlanCurrentEgressPorts: 5.5 kB per VLAN on slxos_slx9150.
    (folder / "profiles" / "qbridge.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "qbridge",
                "tables": [
                    {
                        "name": "vlans",
                        "rows": ["1.3.6.1.2.1.17.7.1.4.2.1.4"],
                        "labels": {"vlan": {"index": [1, 2]}},
                        "metrics": [
                            {
                                "name": "test_vlan_info",
                                "type": "info",
                                "help": "dot1qVlanCurrentEgressPorts 1.3.6.1.2.1.17.7.1.4.2.1.4",
                            }
                        ],
                    }
                ],
            }
        )
    )
    modules = {
        "if_mib": {
            "timeout": CORPUS_MODULE_TIMEOUT,
            "snmp": {"profiles": ["system", "if_mib"], "timeout": 3, "retries": 2},
        },
        "ipstats": {"snmp": {"profiles": ["ipstats"]}},
        "bulk50": {"snmp": {"profiles": ["qbridge"], "max_repetitions": 50, "timeout": 1}},
        "compat": {"compat": "snmp_exporter", "snmp": {"profiles": ["if_mib"]}},
    }
    return write_config(folder, DEVICES, modules, profile_dirs=["profiles"])


@pytest.fixture
async def client(corpus_config: Path, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(create_app(load_config(corpus_config)))


@pytest.mark.parametrize("community", DEVICES)
async def test_every_device_probes_right(
    client: Client, snmpsim_server: Snmpsim, community: str
) -> None:
    text = await probe_text(client, snmpsim_server.port, community, "if_mib")
    samples = parse_exposition(text)
    assert samples[("probe_success", (("prober", "snmp"),))] == 1, text[:2000]

    oper = corpus.column(community, OPER)
    up = {dict(k[1])["ifindex"]: v for k, v in samples.items() if k[0] == "chm_interface_up"}
    assert set(up) == set(oper)
    for index, status in oper.items():
        assert up[index] == (1 if status == "1" else 0)

    info = {dict(k[1])["ifindex"] for k in samples if k[0] == "chm_interface_info"}
    assert info == corpus.interface_rows(community)

    hc = corpus.column(community, HC_IN)
    got_hc = {
        dict(k[1])["ifindex"]: v
        for k, v in samples.items()
        if k[0] == "chm_interface_receive_bytes_total"
    }
    for index, value in hc.items():
        assert got_hc[index] == int(value)

    sys_oid = corpus.recording(community).get("1.3.6.1.2.1.1.2.0")
    if sys_oid is not None:
        info_labels = [dict(k[1]) for k in samples if k[0] == "chm_device_info"]
        assert info_labels[0]["sys_object_id"] == sys_oid[1]


async def test_counter64_above_2_pow_53_is_exact(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "cisco_nxos/cisco-n5000-uk9"
    text = await probe_text(client, snmpsim_server.port, community, "ipstats")
    expected = corpus.column(community, "1.3.6.1.2.1.4.31.1.1.6")
    assert int(expected["1"]) > 2**53
    assert f'test_ip_in_octets_total{{ipversion="1"}} {expected["1"]}\n' in text


async def test_compat_emits_snmp_exporter_names(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "cisco_ios/ios_2960x"
    text = await probe_text(client, snmpsim_server.port, community, "compat")
    hc = corpus.column(community, HC_IN)
    names = corpus.column(community, "1.3.6.1.2.1.31.1.1.1.1")
    line = next(
        ln for ln in text.splitlines() if ln.startswith("ifHCInOctets{") and 'ifIndex="10101"' in ln
    )
    assert f'ifName="{names["10101"]}"' in line
    assert line.endswith(f" {hc['10101']}")
    assert "# TYPE ifHCInOctets counter" in text
    assert "chm_interface_up{" in text


async def test_oversized_reply_shrinks_bulk_then_fails_cleanly(
    client: Client, snmpsim_server: Snmpsim
) -> None:
    # slxos_slx9150 holds 5.5 kB strings: 25 per reply (a column's first walk asks at most 25)
    # exceed a UDP datagram (snmpsim sends nothing), 6 per reply arrive but exceed gufo-snmp
    # 0.13's receive buffer, and so does one. The walker shrinks the bulk on each, then fails
    # the probe with the reason, never a 500.
    community = "extreme/slxos_slx9150"
    text = await probe_text(client, snmpsim_server.port, community, "bulk50", debug="true")
    assert 'probe_success{prober="snmp"} 0' in text
    assert "timeout, now max-repetitions 6" in text
    assert "now max-repetitions 1" in text
    assert "larger than gufo-snmp's receive buffer" in text
