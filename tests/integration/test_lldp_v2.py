"""LLDP-V2-MIB (IEEE 802.1AB-2009+, 1.3.111.2.802.1.1.13) neighbours, probed and crawled.

No corpus walk holds LLDP-V2-MIB, so ``tests/data/lldp_v2/`` has two recordings made from the
standard's structure (lldpV2RemTable indexed by time mark, local ifIndex, destination address
index and neighbour index; lldpV2LocPortTable by ifIndex; lldpV2RemManAddrTable by the
neighbour's index and the address), served by snmpsim:

- ``v2_only``: three neighbours in LLDP-V2-MIB alone (an IPv4 and an IPv6 management address,
  a MAC port id, a port with no ifName that lldpV2LocPortDesc names);
- ``v1_and_v2``: the same V2 rows plus one neighbour in LLDP-MIB: LLDP-MIB's table is read and
  V2's left out, so no neighbour shows twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chm_exporter.config import CommunityAuth, load_config
from chm_exporter.discovery.identify import Neighbor, ReadSettings, examine
from chm_exporter.discovery.reader import WalkerReader
from chm_exporter.probelog import ProbeLog
from chm_exporter.profiles.loader import load_profiles
from chm_exporter.server import create_app
from tests.integration.exposition import parse_exposition
from tests.integration.harness import Labels, series
from tests.servers.snmpsim import Snmpsim
from tests.unit.clients import Client, ClientFactory

DATA = Path(__file__).resolve().parents[1] / "data" / "lldp_v2"
RECORDINGS = ("v2_only", "v1_and_v2")


DIST1 = Neighbor(
    "lldp",
    "Ethernet1",
    "dist1.lab.example",
    "xe-0/0/1",
    "00:aa:bb:cc:00:03",
    "Juniper Networks, Inc. qfx5120-48y",
    "127.0.2.1",
)
LEAF1 = Neighbor(
    "lldp",
    "Ethernet2",
    "leaf1",
    "00:aa:bb:cc:00:14",  # a MAC port id (subtype 3)
    "00:aa:bb:cc:00:04",
    "Linux leaf1 6.1.0-13-amd64",
    "2001:db8::3",
)
OOB = Neighbor("lldp", "Management1", "oob-sw", "Gi0/48", "00:aa:bb:cc:00:05", "", "")


def _labels(n: Neighbor) -> Labels:
    """The chm_neighbor_info label set of a neighbour."""
    return tuple(
        sorted(
            {
                "protocol": n.protocol,
                "local_ifname": n.local_port,
                "remote_sys_name": n.remote_name,
                "remote_port": n.remote_port,
                "remote_chassis_id": n.remote_chassis_id,
                "remote_platform": n.remote_platform,
                "remote_address": n.remote_address,
            }.items()
        )
    )


@pytest.fixture(scope="module")
def sim() -> Iterator[Snmpsim]:
    files = {f"lldp_v2/{name}": (DATA / f"{name}.snmprec").read_text() for name in RECORDINGS}
    with Snmpsim(data_files=[], extra_files=files, probe_community="lldp_v2/v2_only") as server:
        yield server


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    config = {
        "auths": {n: {"version": "2c", "community": f"lldp_v2/{n}"} for n in RECORDINGS},
        "modules": {"lldp": {"snmp": {"profiles": ["lldp"]}}},
    }
    path = tmp_path / "chm.yml"
    path.write_text(yaml.safe_dump(config))
    return await aiohttp_client(create_app(load_config(path)))


async def _neighbours(client: Client, sim: Snmpsim, auth: str, module: str) -> dict[Labels, float]:
    resp = await client.get(
        "/probe", params={"target": f"127.0.0.1:{sim.port}", "auth": auth, "module": module}
    )
    assert resp.status == 200
    samples = parse_exposition(await resp.text())
    assert samples[("probe_success", (("prober", "snmp"),))] == 1
    return series(samples, "chm_neighbor_info")


@pytest.mark.parametrize("module", ["lldp", "auto"])
async def test_an_agent_with_only_lldp_v2_gets_its_neighbours(
    client: Client, sim: Snmpsim, module: str
) -> None:
    got = await _neighbours(client, sim, "v2_only", module)
    assert got == {_labels(DIST1): 1, _labels(LEAF1): 1, _labels(OOB): 1}


async def test_an_agent_with_both_mibs_shows_each_neighbour_once_from_lldp_mib(
    client: Client, sim: Snmpsim
) -> None:
    got = await _neighbours(client, sim, "v1_and_v2", "lldp")
    assert got == {_labels(DIST1): 1}  # V2's leaf1 and oob-sw rows are left out with its table


def test_the_discovery_crawl_reads_lldp_v2_neighbours(sim: Snmpsim) -> None:
    auth = CommunityAuth.model_validate({"version": "2c", "community": "lldp_v2/v2_only"})
    examined = asyncio.run(
        examine(
            WalkerReader(),
            "127.0.0.1",
            [("v2", auth)],
            load_profiles([]),
            ReadSettings(sim.port, 2.0, 1, ("lldp",)),
            ProbeLog("127.0.0.1", "discovery"),
        )
    )
    assert examined.identity.vendor == "arista"
    assert set(examined.neighbors) == {DIST1, LEAF1, OOB}
