"""Vendor health profiles (Cisco IOS/IOS-XE, NX-OS, Linux net-snmp) against the real recordings:
each value recomputed by hand from the .snmprec file, not from a golden."""

from __future__ import annotations

from pathlib import Path

import pytest

from chm_exporter.config import load_config
from chm_exporter.server import create_app
from tests.integration import corpus
from tests.integration.harness import (
    Samples,
    one,
    probe_ok,
    profile_modules,
    recorded_int,
    recorded_text,
    series,
    write_config,
)
from tests.servers.snmpsim import Snmpsim
from tests.unit.clients import Client, ClientFactory

pytestmark = pytest.mark.corpus

DEVICES = {
    "cisco_ios/cisco-c3560": "cisco_ios",
    "cisco_ios/ios_2960x": "cisco_ios",
    "cisco_ios/iosxe_c1100tgx": "cisco_ios",
    "cisco_ios/iosxe_c3850": "cisco_ios",
    "cisco_ios/iosxe_c9400-svl": "cisco_ios",
    "cisco_ios/iosxe_c9600-svl": "cisco_ios",
    "cisco_ios/iosxe_ie32008t2s-ios17-12": "cisco_ios",
    "cisco_nxos/cisco-n5000-uk9": "cisco_nxos",
    "cisco_nxos/nxos_lag-mib": "cisco_nxos",
    "cisco_nxos/nxos_n3k-3064pq": "cisco_nxos",
    "linux_netsnmp/linux_powermon": "linux_netsnmp",
    "linux_netsnmp/slackware": "linux_netsnmp",
    "linux_netsnmp/unknown-006": "linux_netsnmp",
}
PLATFORM = {
    "cisco_ios": ("cisco", "ios"),
    "cisco_nxos": ("cisco", "nxos"),
    "linux_netsnmp": ("net-snmp", "linux"),
}
MODEL = {
    "cisco_ios/cisco-c3560": "WS-C3560G-48TS-E",
    "cisco_ios/ios_2960x": "WS-C2960X-48FPS-L",
    "cisco_ios/iosxe_c1100tgx": "C1100TGX-1N24P32A",
    "cisco_ios/iosxe_c3850": "WS-C3850-48T-S",  # no entPhysicalClass: first row with a model
    "cisco_ios/iosxe_c9400-svl": "C9404R",
    "cisco_ios/iosxe_c9600-svl": "C9606R",
    "cisco_ios/iosxe_ie32008t2s-ios17-12": "IE-3200-8T2S",
    "cisco_nxos/cisco-n5000-uk9": "N5K-C5548UP",
    "cisco_nxos/nxos_lag-mib": "C9336C-FX2",  # no ENTITY-MIB: from sysDescr
    "cisco_nxos/nxos_n3k-3064pq": "N3K-C3064PQ-10GX",
    # the machine at the end of sysDescr (uname -m), named by its architecture
    "linux_netsnmp/linux_powermon": "Generic x86 64-bit",
    "linux_netsnmp/slackware": "Generic x86",  # i686
    "linux_netsnmp/unknown-006": "Generic x86 64-bit",
}
PROC = "1.3.6.1.4.1.9.9.109.1.1.1.1"
ENVMON = "1.3.6.1.4.1.9.9.13.1"
ENT_NAME = "1.3.6.1.2.1.47.1.1.1.1.7"


@pytest.fixture(scope="module")
def vendor_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    modules = profile_modules(DEVICES.values())
    return write_config(tmp_path_factory.mktemp("vendors_a"), DEVICES, modules)


@pytest.fixture
async def client(vendor_config: Path, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(create_app(load_config(vendor_config)))


async def _probe(client: Client, port: int, community: str) -> Samples:
    return await probe_ok(client, port, community, DEVICES[community])


@pytest.mark.parametrize("community", sorted(DEVICES))
async def test_device_info_vendor_platform_model(
    client: Client, snmpsim_server: Snmpsim, community: str
) -> None:
    samples = await _probe(client, snmpsim_server.port, community)
    (info,) = [dict(k) for k in series(samples, "chm_device_info")]
    assert (info["vendor"], info["platform"]) == PLATFORM[DEVICES[community]]
    assert info["model"] == MODEL[community]


async def test_ios_2960x_values(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "cisco_ios/ios_2960x"
    samples = await _probe(client, snmpsim_server.port, community)
    # cpmCPUTotal1minRev 63 % of the CPU with no physical entity (index 0).
    assert recorded_int(community, f"{PROC}.2.1") == 0
    assert (
        one(samples, "chm_cpu_utilization_ratio", cpu="CPU")
        == recorded_int(community, f"{PROC}.7.1") / 100
    )
    # ciscoMemoryPool "Processor" (bytes).
    assert recorded_text(community, "1.3.6.1.4.1.9.9.48.1.1.1.2.1") == "Processor"
    pool = {"pool": "Processor"}
    assert one(samples, "chm_memory_used_bytes", **pool) == recorded_int(
        community, "1.3.6.1.4.1.9.9.48.1.1.1.5.1"
    )
    assert one(samples, "chm_memory_free_bytes", **pool) == recorded_int(
        community, "1.3.6.1.4.1.9.9.48.1.1.1.6.1"
    )
    # ENVMON temperature of entity 1008, named by its entPhysicalName, with its threshold.
    sensor = recorded_text(community, f"{ENT_NAME}.1008")
    assert one(samples, "chm_temperature_celsius", sensor=sensor) == recorded_int(
        community, f"{ENVMON}.3.1.3.1008"
    )
    assert one(
        samples, "chm_temperature_threshold_celsius", sensor=sensor, level="shutdown"
    ) == recorded_int(community, f"{ENVMON}.3.1.4.1008")
    # Fans and supplies: every recorded row normal(1) -> up.
    fans = series(samples, "chm_fan_up")
    assert len(fans) == len(corpus.column(community, f"{ENVMON}.4.1.3")) == 3
    assert all(v == 1 and dict(k)["state"] == "normal" for k, v in fans.items())
    assert len(series(samples, "chm_psu_up")) == 3
    # CDP neighbours: one series per cdpCacheTable row, local port by ifName.
    cdp = [dict(k) for k in series(samples, "chm_neighbor_info")]
    assert len(cdp) == len(corpus.column(community, "1.3.6.1.4.1.9.9.23.1.2.1.1.6")) == 7
    assert {"local_ifname": "Gi1/0/52", "remote_port": "GigabitEthernet1/0/3"}.items() <= next(
        n for n in cdp if n["local_ifname"] == "Gi1/0/52"
    ).items()
    # DOM: entity 1067 "Gi1/0/52 Receive Power Sensor", -47 at precision 1 -> -4.7 dBm.
    assert recorded_text(community, f"{ENT_NAME}.1067").startswith("Gi1/0/52 Receive")
    rx = recorded_int(community, "1.3.6.1.4.1.9.9.91.1.1.1.1.4.1067") / 10
    assert one(samples, "chm_optic_rx_power_dbm", ifname="Gi1/0/52", lane="1") == rx
    # StackWise: three members ready(4).
    stack = series(samples, "chm_stack_member_up")
    assert sorted(stack.values()) == [1, 1, 1]


async def test_iosxe_c9600_enhanced_mempool_and_sensor(
    client: Client, snmpsim_server: Snmpsim
) -> None:
    community = "cisco_ios/iosxe_c9600-svl"
    samples = await _probe(client, snmpsim_server.port, community)
    emp = "1.3.6.1.4.1.9.9.221.1.1.1.1"
    assert recorded_text(community, f"{emp}.3.3000.1") == "Processor"
    used = recorded_int(community, f"{emp}.18.3000.1")
    assert one(samples, "chm_memory_used_bytes", pool="Processor") == used
    assert one(samples, "chm_memory_free_bytes", pool="Processor") == recorded_int(
        community, f"{emp}.20.3000.1"
    )
    # CPU named by the entPhysicalName of cpmCPUTotalPhysicalIndex.
    phys = recorded_int(community, f"{PROC}.2.24")
    cpu = recorded_text(community, f"{ENT_NAME}.{phys}")
    assert (
        one(samples, "chm_cpu_utilization_ratio", cpu=cpu)
        == recorded_int(community, f"{PROC}.7.24") / 100
    )
    # One temperature from both ENVMON and ENTITY-SENSOR (same entity): one series.
    name = recorded_text(community, f"{ENT_NAME}.1001")
    temps = [dict(k)["sensor"] for k in series(samples, "chm_temperature_celsius")]
    assert temps.count(name) == 1
    assert len(temps) == len(set(temps))


async def test_iosxe_c1100_forwarding_processor_and_fru_power_supply(
    client: Client, snmpsim_server: Snmpsim
) -> None:
    community = "cisco_ios/iosxe_c1100tgx"
    # CISCO-ENTITY-QFP-MIB ceqfpUtilProcessingLoad, entity 9001, 1-minute row (interval 2)
    qfp = "1.3.6.1.4.1.9.9.715.1.1.6.1.14"
    assert recorded_text(community, f"{ENT_NAME}.9001") == "qfp F0/0"
    samples = await _probe(client, snmpsim_server.port, community)
    assert (
        one(samples, "chm_cpu_utilization_ratio", cpu="qfp F0/0")
        == recorded_int(community, f"{qfp}.9001.2") / 100
    )
    assert len(corpus.column(community, qfp)) == 4  # four windows, one series
    # No CISCO-ENVMON supply here: the power supply comes from CISCO-ENTITY-FRU-CONTROL-MIB.
    assert not corpus.column(community, f"{ENVMON}.5.1.3")
    assert recorded_int(community, "1.3.6.1.4.1.9.9.117.1.1.2.1.2.3") == 2
    assert series(samples, "chm_psu_up") == {
        (("psu", recorded_text(community, f"{ENT_NAME}.3")), ("state", "on")): 1
    }


async def test_nxos_n3k_values(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "cisco_nxos/nxos_n3k-3064pq"
    samples = await _probe(client, snmpsim_server.port, community)
    cpu = recorded_text(community, f"{ENT_NAME}.{recorded_int(community, f'{PROC}.2.22')}")
    assert (
        one(samples, "chm_cpu_utilization_ratio", cpu=cpu)
        == recorded_int(community, f"{PROC}.7.22") / 100
    )
    # cpmCPUMemoryUsed / Free (no HC columns here) are KB.
    assert (
        one(samples, "chm_memory_used_bytes", pool=cpu)
        == recorded_int(community, f"{PROC}.12.22") * 1024
    )
    assert (
        one(samples, "chm_memory_free_bytes", pool=cpu)
        == recorded_int(community, f"{PROC}.13.22") * 1024
    )
    # FRU control: fans up(2), power on(2).
    fans = series(samples, "chm_fan_up")
    assert len(fans) == len(corpus.column(community, "1.3.6.1.4.1.9.9.117.1.4.1.1.1")) == 2
    assert all(v == 1 and dict(k)["state"] == "up" for k, v in fans.items())
    psu = series(samples, "chm_psu_up")
    assert [dict(k)["state"] for k in psu] == ["on"]
    # DOM lane sensor: -13187 at scale milli(8) -> -13.187 dBm.
    assert recorded_text(community, f"{ENT_NAME}.300000013").startswith(
        "Ethernet1/1 Lane 1 Transceiver Rec"
    )
    rx = recorded_int(community, "1.3.6.1.4.1.9.9.91.1.1.1.1.4.300000013") / 1000
    assert one(samples, "chm_optic_rx_power_dbm", ifname="Ethernet1/1", lane="1") == rx
    # Neighbours: one LLDP and two CDP.
    protocols = sorted(dict(k)["protocol"] for k in series(samples, "chm_neighbor_info"))
    assert protocols == ["cdp", "cdp", "lldp"]

    # cisco-n5000-uk9: the supervisor and a daughter card have a FRU power state too; only
    # the entPhysicalClass powerSupply(6) rows are power supplies.
    community = "cisco_nxos/cisco-n5000-uk9"
    samples = await _probe(client, snmpsim_server.port, community)
    powered = corpus.column(community, "1.3.6.1.4.1.9.9.117.1.1.2.1.2")
    classes = corpus.column(community, "1.3.6.1.2.1.47.1.1.1.1.5")
    supplies = {i for i in powered if classes.get(i) == "6"}
    assert 0 < len(supplies) < len(powered)
    assert len(series(samples, "chm_psu_up")) == len(supplies)


async def test_linux_without_ucd_memory_keeps_the_hrstorage_pool(
    client: Client, snmpsim_server: Snmpsim
) -> None:
    community = "linux_netsnmp/linux_powermon"
    samples = await _probe(client, snmpsim_server.port, community)
    # No UCD memory in this recording: hrStorage "Physical memory" (hrStorageRam, row 1) stays,
    # without the "Memory buffers" and "Cached memory" rows (free as the device means it):
    # (used - buffers - cached) x units and (size - used + buffers + cached) x units.
    hr = "1.3.6.1.2.1.25.2.3.1"
    assert recorded_text(community, f"{hr}.3.1") == "Physical memory"
    units, size, used = (recorded_int(community, f"{hr}.{col}.1") for col in (4, 5, 6))
    descrs = corpus.column(community, f"{hr}.3")
    rows = [i for i, d in descrs.items() if d in ("Memory buffers", "Cached memory")]
    assert len(rows) == 2
    reclaimable = sum(recorded_int(community, f"{hr}.6.{i}") for i in rows)
    assert one(samples, "chm_memory_used_bytes", pool="Physical memory") == (
        (used - reclaimable) * units
    )
    assert one(samples, "chm_memory_free_bytes", pool="Physical memory") == (
        (size - used + reclaimable) * units
    )


async def test_linux_slackware_values(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "linux_netsnmp/slackware"
    samples = await _probe(client, snmpsim_server.port, community)
    assert (
        one(samples, "chm_cpu_utilization_ratio", cpu="768")
        == recorded_int(community, "1.3.6.1.2.1.25.3.3.1.2.768") / 100
    )
    # hrStorage "Physical memory" is the same RAM as UCD's, which replaces it: one pool.
    hr = "1.3.6.1.2.1.25.2.3.1"
    assert recorded_text(community, f"{hr}.3.1") == "Physical memory"
    pools = {dict(k[1]).get("pool") for k in samples if k[0] == "chm_memory_used_bytes"}
    assert pools == {"real"}
    assert one(samples, "chm_filesystem_size_bytes", mount="/") == recorded_int(
        community, f"{hr}.5.31"
    ) * recorded_int(community, f"{hr}.4.31")
    # UCD: memTotalReal - memAvailReal and memAvailReal in KB, laLoad strings.
    # buffers (memBuffer) and page cache (memCached) are free as the device means it
    total, avail, buffers, cached = (
        recorded_int(community, f"1.3.6.1.4.1.2021.4.{n}.0") for n in (5, 6, 14, 15)
    )
    reclaimable = buffers + cached
    assert one(samples, "chm_memory_used_bytes", pool="real") == (
        (total - avail - reclaimable) * 1024
    )
    assert one(samples, "chm_memory_free_bytes", pool="real") == (avail + reclaimable) * 1024
    assert one(samples, "chm_load_average", window="1m") == float(
        recorded_text(community, "1.3.6.1.4.1.2021.10.1.3.1")
    )
