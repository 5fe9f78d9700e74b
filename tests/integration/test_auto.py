"""module=auto: vendor by sysObjectID, an explicit module wins, unknown devices get the standard
MIBs, and the choice is cached per device."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from chm_exporter.config import load_config
from chm_exporter.probers.snmp.device import SnmpDeviceState
from chm_exporter.server import STATE, create_app
from tests.integration.exposition import SampleKey, parse_exposition
from tests.servers.snmpsim import Snmpsim
from tests.unit.clients import Client, ClientFactory

pytestmark = pytest.mark.corpus

UNKNOWN_DEVICE = (
    "\n".join(
        [
            "1.3.6.1.2.1.1.1.0|4|Acme Widget OS 1.0",
            "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99999.1.2",
            "1.3.6.1.2.1.1.3.0|67|123456",
            "1.3.6.1.2.1.1.5.0|4|widget1",
            "1.3.6.1.2.1.2.2.1.1.1|2|1",
            "1.3.6.1.2.1.2.2.1.2.1|4|eth0",
            "1.3.6.1.2.1.2.2.1.8.1|2|1",
            "1.3.6.1.2.1.25.3.3.1.2.196608|2|42",
        ]
    )
    + "\n"
)


@pytest.fixture(scope="module")
def acme() -> Iterator[Snmpsim]:
    with Snmpsim(
        data_files=["cisco_ios/ios_2960x"], extra_files={"acme/widget": UNKNOWN_DEVICE}
    ) as sim:
        yield sim


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: ClientFactory) -> Client:
    config = {
        "auths": {
            "acme": {"version": "2c", "community": "acme/widget"},
            "cisco": {"version": "2c", "community": "cisco_ios/ios_2960x"},
        },
        "modules": {"interfaces": {"snmp": {"profiles": ["if_mib"]}}},
    }
    path = tmp_path / "chm.yml"
    path.write_text(yaml.safe_dump(config))
    return await aiohttp_client(create_app(load_config(path)))


async def _probe(client: Client, sim: Snmpsim, auth: str, module: str = "auto") -> str:
    resp = await client.get(
        "/probe",
        params={"target": f"127.0.0.1:{sim.port}", "auth": auth, "module": module, "debug": "true"},
    )
    assert resp.status == 200
    return await resp.text()


def _metrics(text: str) -> dict[SampleKey, float]:
    return parse_exposition(text.split("returned:\n", 1)[1].split("\nModule configuration", 1)[0])


async def test_unknown_vendor_gets_standard_mibs(client: Client, acme: Snmpsim) -> None:
    text = await _probe(client, acme, "acme")
    assert "profiles standard" in text
    got = _metrics(text)
    info = next(dict(k[1]) for k in got if k[0] == "chm_device_info")
    assert info["vendor"] == ""
    assert info["sys_object_id"] == "1.3.6.1.4.1.99999.1.2"
    assert got[("chm_cpu_utilization_ratio", (("cpu", "196608"),))] == pytest.approx(0.42)
    assert got[("chm_interface_up", (("ifalias", ""), ("ifindex", "1"), ("ifname", "eth0")))] == 1


async def test_vendor_chosen_once_then_cached(client: Client, acme: Snmpsim) -> None:
    first = await _probe(client, acme, "cisco")
    assert "sysObjectID 1.3.6.1.4.1.9.1.1208: profiles cisco_ios" in first
    second = await _probe(client, acme, "cisco")
    assert "sysObjectID 1.3.6" not in second  # no detection GET the second time
    assert "profiles cisco_ios" in second
    assert any(k[0] == "chm_cpu_utilization_ratio" for k in _metrics(second))


async def test_explicit_module_wins(client: Client, acme: Snmpsim) -> None:
    got = _metrics(await _probe(client, acme, "cisco", "interfaces"))
    assert any(k[0] == "chm_interface_up" for k in got)
    assert not any(k[0] in ("chm_cpu_utilization_ratio", "chm_device_info") for k in got)


CDP_DEVICE_ID = "1.3.6.1.4.1.9.9.23.1.2.1.1.6"  # cdpCacheDeviceId: the CDP table's rows
CDP_PLATFORM = "1.3.6.1.4.1.9.9.23.1.2.1.1.8"  # cdpCachePlatform: a label-only column


def _neighbors(text: str) -> set[tuple[tuple[str, str], ...]]:
    return {k[1] for k in _metrics(text) if k[0] == "chm_neighbor_info"}


async def test_lookup_cache_never_decides_which_neighbours_exist(
    client: Client, acme: Snmpsim
) -> None:
    """The lookup cache serves label text only: the rows (which neighbours, which interfaces)
    are walked every scrape, so a neighbour that went away disappears at the next scrape."""
    first = _neighbors(await _probe(client, acme, "cisco"))
    assert any(dict(n)["protocol"] == "cdp" for n in first)
    state = client.app[STATE]
    device = state.devices.get("snmp", SnmpDeviceState, "127.0.0.1", str(acme.port), "cisco")
    assert CDP_PLATFORM in device.lookups, "the label-only CDP column was not cached"
    assert CDP_DEVICE_ID not in device.lookups, "the CDP rows column was cached"
    # A cache holding a neighbour the device no longer has (as one filled 15 minutes ago would)
    # must not bring it back.
    device.lookups[CDP_DEVICE_ID] = {"99.1": b"gone-neighbour"}
    device.lookups[CDP_PLATFORM] = {**device.lookups[CDP_PLATFORM], "99.1": b"cisco WS-GONE"}
    second = _neighbors(await _probe(client, acme, "cisco"))
    assert second == first
