"""Vendor health profiles (Juniper, Arista, Aruba CX, ProCurve, Brocade/Ruckus, Extreme) against
the real recordings: each value recomputed by hand from the .snmprec file, not from a golden."""

from __future__ import annotations

import math
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
    "juniper_junos/junos_ex4600mp": "juniper_junos",
    "juniper_junos/junos_mx5t-isis": "juniper_junos",
    "juniper_junos/junos_srx3600": "juniper_junos",
    "arista_eos/arista_eos": "arista_eos",
    "arista_eos/arista_eos_7280r": "arista_eos",
    "aruba_aoscx/arubaos-cx_10.06": "aruba_aoscx",
    "aruba_aoscx/arubaos-cx_6300_vsf_stack": "aruba_aoscx",
    "aruba_aoscx/arubaos-cx_8360": "aruba_aoscx",
    "hp_procurve/hpe-procurve-516733-b21": "hp_procurve",
    "hp_procurve/procurve": "hp_procurve",
    "hp_procurve/procurve_2520": "hp_procurve",
    "brocade_ruckus/brocade-icx6430-24": "brocade_ruckus",
    "brocade_ruckus/ironware_stack-temp": "brocade_ruckus",
    "extreme/xos_sfp": "extreme_exos",
    "extreme/voss_8608": "extreme_voss",
    "extreme/slxos_slx9150": "extreme_slx",
}
PLATFORM = {
    "juniper_junos": ("juniper", "junos"),
    "arista_eos": ("arista", "eos"),
    "aruba_aoscx": ("aruba", "aoscx"),
    "hp_procurve": ("hpe", "procurve"),
    "brocade_ruckus": ("ruckus", "fastiron"),
    "extreme_exos": ("extreme", "exos"),
    "extreme_voss": ("extreme", "voss"),
    "extreme_slx": ("extreme", "slxos"),
}
JNX = "1.3.6.1.4.1.2636.3.1.13.1"


@pytest.fixture(scope="module")
def vendor_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    modules = profile_modules(DEVICES.values())
    return write_config(tmp_path_factory.mktemp("vendors_b"), DEVICES, modules)


@pytest.fixture
async def client(vendor_config: Path, aiohttp_client: ClientFactory) -> Client:
    return await aiohttp_client(create_app(load_config(vendor_config)))


async def _probe(client: Client, port: int, community: str) -> Samples:
    return await probe_ok(client, port, community, DEVICES[community])


@pytest.mark.parametrize("community", sorted(DEVICES))
async def test_device_info_vendor_and_platform(
    client: Client, snmpsim_server: Snmpsim, community: str
) -> None:
    samples = await _probe(client, snmpsim_server.port, community)
    (info,) = [dict(k) for k in series(samples, "chm_device_info")]
    assert (info["vendor"], info["platform"]) == PLATFORM[DEVICES[community]]


def _jnx_rows(community: str) -> dict[str, dict[int, str]]:
    rows: dict[str, dict[int, str]] = {}
    for key, (_t, value) in corpus.recording(community).items():
        if key.startswith(JNX + "."):
            col, index = key[len(JNX) + 1 :].split(".", 1)
            rows.setdefault(index, {})[int(col)] = value
    return rows


async def test_junos_mx5t_values(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "juniper_junos/junos_mx5t-isis"
    samples = await _probe(client, snmpsim_server.port, community)
    rows = _jnx_rows(community)
    re_row = rows["9.1.0.0"]
    assert re_row[5] == "Routing Engine"
    # CPU 87 % -> 0.87; memory 2048 MB with jnxOperatingBuffer 39 % used.
    assert one(samples, "chm_cpu_utilization_ratio", cpu="Routing Engine") == pytest.approx(
        int(re_row[8]) / 100
    )
    total = int(re_row[15]) * 1024 * 1024
    used = one(samples, "chm_memory_used_bytes", pool="Routing Engine")
    free = one(samples, "chm_memory_free_bytes", pool="Routing Engine")
    assert used == pytest.approx(total * int(re_row[11]) / 100)
    assert used + free == pytest.approx(total)
    assert one(samples, "chm_temperature_celsius", sensor="Routing Engine") == int(re_row[7])
    # Components without a sensor (temp 0) and fan/PIC rows give no CPU/memory/temperature.
    temps = {dict(k)["sensor"] for k in series(samples, "chm_temperature_celsius")}
    assert temps == {r[5] for r in rows.values() if r[7] != "0"}
    cpus = {dict(k)["cpu"] for k in series(samples, "chm_cpu_utilization_ratio")}
    assert "Fan 1" not in cpus
    assert "TFEB Intake temperature sensor" not in cpus
    # Fans are container 4, power supplies container 2; all running.
    fans = series(samples, "chm_fan_up")
    assert {dict(k)["fan"] for k in fans} == {r[5] for i, r in rows.items() if i.startswith("4.")}
    assert set(fans.values()) == {1}
    assert one(samples, "chm_psu_up", psu="PEM 0", state="running") == 1
    # Optics: ge-1/0/0 is ifIndex 516, jnxDomCurrentLaneRxLaserPower -2677 (0.01 dBm).
    assert corpus.column(community, "1.3.6.1.2.1.31.1.1.1.1")["516"] == "ge-1/0/0"
    lane = "1.3.6.1.4.1.2636.3.60.1.2.1.1"
    assert one(samples, "chm_optic_rx_power_dbm", ifname="ge-1/0/0", lane="0") == pytest.approx(
        int(corpus.column(community, lane + ".6")["516.0"]) / 100
    )
    assert one(
        samples, "chm_optic_bias_current_amperes", ifname="ge-1/0/0", lane="0"
    ) == pytest.approx(int(corpus.column(community, lane + ".7")["516.0"]) * 1e-6)
    # Empty ports (all-zero DOM rows, no thresholds) give no optic series.
    present = {
        i
        for i, v in corpus.column(community, "1.3.6.1.4.1.2636.3.60.1.1.1.1.21").items()
        if v != "0"
    }
    rx = series(samples, "chm_optic_rx_power_dbm")
    names = corpus.column(community, "1.3.6.1.2.1.31.1.1.1.1")
    assert {dict(k)["ifname"] for k in rx} == {names[i] for i in present}


async def test_junos_ex4600_four_lane_optic_and_srx_fan_state(
    client: Client, snmpsim_server: Snmpsim
) -> None:
    community = "juniper_junos/junos_ex4600mp"
    samples = await _probe(client, snmpsim_server.port, community)
    ifname = corpus.column(community, "1.3.6.1.2.1.31.1.1.1.1")["994"]
    lanes = corpus.column(community, "1.3.6.1.4.1.2636.3.60.1.2.1.1.6")
    for lane in ("0", "1", "2", "3"):
        got = one(samples, "chm_optic_rx_power_dbm", ifname=ifname, lane=lane)
        assert got == pytest.approx(int(lanes[f"994.{lane}"]) / 100)
    # Fan trays repeat the FPC's memory figures: no memory pool for them.
    pools = {dict(k)["pool"] for k in series(samples, "chm_memory_used_bytes")}
    assert not any(p.startswith("Fan Tray") for p in pools)
    assert len(series(samples, "chm_psu_up")) == 8

    community = "juniper_junos/junos_srx3600"
    samples = await _probe(client, snmpsim_server.port, community)
    rows = _jnx_rows(community)
    assert rows["4.2.1.0"][6] == "5"
    assert one(samples, "chm_fan_up", fan="node1 Fan 1", state="runningAtFullSpeed") == 1
    assert one(samples, "chm_cpu_utilization_ratio", cpu="node0 Routing Engine 0") == (
        pytest.approx(int(rows["9.1.0.0"][8]) / 100)
    )
    # The SRX Routing Engines report temperature 0: no sample.
    assert ("chm_temperature_celsius", (("sensor", "node0 Routing Engine 0"),)) not in samples
    # every SPU of both cluster nodes (jnxJsSPUMonitoringCPUUsage, by index)
    spus = corpus.column(community, "1.3.6.1.4.1.2636.3.39.1.12.1.1.1.4")
    assert len(spus) == 12
    for index, value in spus.items():
        assert one(samples, "chm_cpu_utilization_ratio", cpu=index) == int(value) / 100
    # ... and their memory, a share only (jnxJsSPUMonitoringMemoryUsage): no byte count
    shares = corpus.column(community, "1.3.6.1.4.1.2636.3.39.1.12.1.1.1.5")
    assert series(samples, "chm_memory_utilization_ratio") == {
        (("pool", index),): pytest.approx(int(value) / 100) for index, value in shares.items()
    }
    assert not set(shares) & {dict(k)["pool"] for k in series(samples, "chm_memory_used_bytes")}


async def test_arista_thresholds(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "arista_eos/arista_eos"
    samples = await _probe(client, snmpsim_server.port, community)
    index = "100006001"
    assert recorded_text(community, f"1.3.6.1.2.1.47.1.1.1.1.2.{index}") == "Cpu temp sensor"
    # entPhySensorScale 9 (units), precision 1: 900 -> 90.0 and 950 -> 95.0 degrees.
    assert corpus.column(community, "1.3.6.1.2.1.99.1.1.1.2")[index] == "9"
    assert corpus.column(community, "1.3.6.1.2.1.99.1.1.1.3")[index] == "1"
    thr = "1.3.6.1.4.1.30065.3.12.1.1.1"
    for col, level in (("3", "warning"), ("4", "critical")):
        expected = int(corpus.column(community, f"{thr}.{col}")[index]) / 10
        got = one(
            samples, "chm_temperature_threshold_celsius", sensor="Cpu temp sensor", level=level
        )
        assert got == pytest.approx(expected)
    # Only temperature sensors (entPhySensorType 8) and no unset (+-1e9) thresholds.
    types = corpus.column(community, "1.3.6.1.2.1.99.1.1.1.1")
    thresholds = series(samples, "chm_temperature_threshold_celsius")
    # EOS gives both power supplies' sensors one entPhysicalDescr ("Inlet temperature sensor"):
    # the later one's series carries its index (" #<entPhysicalIndex>"), so every sensor counts.
    sensors = [
        i
        for i, t in types.items()
        if t == "8" and abs(int(corpus.column(community, f"{thr}.3").get(i, str(10**9)))) < 10**9
    ]
    assert len(thresholds) == 2 * len(sensors)
    assert all(abs(v) < 1000 for v in thresholds.values())


async def test_aruba_cx_8360(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "aruba_aoscx/arubaos-cx_8360"
    samples = await _probe(client, snmpsim_server.port, community)
    temp = "1.3.6.1.4.1.47196.4.1.1.3.11.3.1.1"
    name = corpus.column(community, f"{temp}.5")["1.4.1.2"]
    assert name == "1/1-CPU"
    expected = int(corpus.column(community, f"{temp}.7")["1.4.1.2"]) / 1000
    assert one(samples, "chm_temperature_celsius", sensor=name) == pytest.approx(expected)
    psu = "1.3.6.1.4.1.47196.4.1.1.3.11.2.1.1"
    states = corpus.column(community, f"{psu}.4")
    names = corpus.column(community, f"{psu}.3")
    got = series(samples, "chm_psu_up")
    assert got == {
        tuple(sorted({"psu": names[i], "state": s}.items())): (1 if s == "ok" else 0)
        for i, s in states.items()
    }


async def test_procurve_values(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "hp_procurve/hpe-procurve-516733-b21"
    samples = await _probe(client, snmpsim_server.port, community)
    rec = corpus.recording(community)
    assert one(samples, "chm_cpu_utilization_ratio", cpu="0") == pytest.approx(
        int(rec["1.3.6.1.4.1.11.2.14.11.5.1.9.6.1.0"][1]) / 100
    )
    mem = "1.3.6.1.4.1.11.2.14.11.5.1.1.2.1.1.1"
    assert one(samples, "chm_memory_used_bytes", pool="1") == int(rec[f"{mem}.7.1"][1])
    assert one(samples, "chm_memory_free_bytes", pool="1") == int(rec[f"{mem}.6.1"][1])
    # Sensors: 1 fan (type ...8.3.2), 2 power supplies (...8.3.1), all good (4).
    assert series(samples, "chm_fan_up") == {(("fan", "Fan Sensor"), ("state", "good")): 1}
    assert len(series(samples, "chm_psu_up")) == 2

    # procurve_2520: the temperature sensor row is notPresent; the fan sensor is good, and
    # hpicfFanTable / hpicfPsTable list every fan (ok 5) and supply (psPowered 3) by number.
    community = "hp_procurve/procurve_2520"
    samples = await _probe(client, snmpsim_server.port, community)
    fans = corpus.column(community, "1.3.6.1.4.1.11.2.14.11.5.1.54.2.1.1.4")
    assert len(fans) == 6
    assert series(samples, "chm_fan_up") == {
        (("fan", "Fan Sensor"), ("state", "good")): 1,
        **{(("fan", i), ("state", "ok")): 1 for i, v in fans.items() if v == "5"},
    }
    supplies = corpus.column(community, "1.3.6.1.4.1.11.2.14.11.5.1.55.1.1.1.2")
    assert series(samples, "chm_psu_up") == {
        (("psu", i), ("state", "psPowered")): 1 for i, v in supplies.items() if v == "3"
    }
    assert len(supplies) == 2
    ps_temps = corpus.column(community, "1.3.6.1.4.1.11.2.14.11.5.1.55.1.1.1.4")
    for i, v in ps_temps.items():
        assert one(samples, "chm_temperature_celsius", sensor=i) == int(v)
    # hpicfXcvrInfoTable per ifIndex: thousandths of a dBm, µA, m°C; -99999999 is no reading.
    xcvr = "1.3.6.1.4.1.11.2.14.11.5.1.82.1.1.1.1"
    rec = corpus.recording(community)
    assert one(samples, "chm_optic_tx_power_dbm", ifname="49", lane="1") == pytest.approx(
        int(rec[f"{xcvr}.14.49"][1]) / 1000
    )
    assert one(samples, "chm_optic_bias_current_amperes", ifname="49", lane="1") == (
        pytest.approx(int(rec[f"{xcvr}.13.49"][1]) / 1e6)
    )
    assert rec[f"{xcvr}.15.49"][1] == "-99999999"
    assert ("chm_optic_rx_power_dbm", (("ifname", "49"), ("lane", "1"))) not in samples
    (info,) = series(samples, "chm_device_info")
    assert "revision KA.15.03.3004," in recorded_text(community, "1.3.6.1.2.1.1.1.0")
    assert dict(info)["os_version"] == "KA.15.03.3004"

    # A stack whose sysDescr carries a placeholder revision: hpSwitchOsVersion is the version.
    community = "hp_procurve/procurve"
    samples = await _probe(client, snmpsim_server.port, community)
    assert recorded_text(community, "1.3.6.1.2.1.1.1.0") == "HP Stack, revision KA.00.00.0000"
    (info,) = series(samples, "chm_device_info")
    assert dict(info)["os_version"] == recorded_text(community, "1.3.6.1.4.1.11.2.14.11.5.1.1.3.0")


async def test_brocade_values(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "brocade_ruckus/brocade-icx6430-24"
    samples = await _probe(client, snmpsim_server.port, community)
    rec = corpus.recording(community)
    # 1-minute interval row slot 1 cpu 1: snAgentCpuUtil100thPercent 100 -> 0.01.
    cpu100 = int(rec["1.3.6.1.4.1.1991.1.1.2.11.1.1.6.1.1.60"][1])
    assert one(samples, "chm_cpu_utilization_ratio", cpu="1.1") == pytest.approx(cpu100 / 10000)
    total = int(rec["1.3.6.1.4.1.1991.1.1.2.1.54.0"][1])
    free = int(rec["1.3.6.1.4.1.1991.1.1.2.1.55.0"][1])
    assert one(samples, "chm_memory_used_bytes", pool="dynamic") == total - free
    assert one(samples, "chm_memory_free_bytes", pool="dynamic") == free
    # snAgentTemp2Table (unit.slot.sensor) in place of snAgentTempTable (slot.sensor)
    temp = int(rec["1.3.6.1.4.1.1991.1.1.2.13.3.1.5.1.1.1"][1])
    assert one(samples, "chm_temperature_celsius", sensor="1.1.1") == pytest.approx(temp / 2)
    assert ("chm_temperature_celsius", (("sensor", "1.1"),)) not in samples
    (psu,) = series(samples, "chm_psu_up").items()
    assert dict(psu[0])["state"] == "normal"
    assert psu[1] == 1

    # A stack: unit 2's "Sensor 1 Temperature" does not overwrite unit 1's.
    community = "brocade_ruckus/ironware_stack-temp"
    samples = await _probe(client, snmpsim_server.port, community)
    temps = corpus.column(community, "1.3.6.1.4.1.1991.1.1.2.13.3.1.5")
    assert {i.split(".")[0] for i in temps} == {"1", "2"}
    got = series(samples, "chm_temperature_celsius")
    assert got == {(("sensor", i),): pytest.approx(int(v) / 2) for i, v in temps.items()}


async def test_extreme_values(client: Client, snmpsim_server: Snmpsim) -> None:
    community = "extreme/xos_sfp"
    samples = await _probe(client, snmpsim_server.port, community)
    rec = corpus.recording(community)
    assert one(samples, "chm_cpu_utilization_ratio", cpu="total") == pytest.approx(
        int(rec["1.3.6.1.4.1.1916.1.32.1.2.0"][1]) / 100
    )
    assert one(samples, "chm_temperature_celsius", sensor="chassis") == int(
        rec["1.3.6.1.4.1.1916.1.1.1.8.0"][1]
    )
    speeds = corpus.column(community, "1.3.6.1.4.1.1916.1.1.1.9.1.4")
    assert series(samples, "chm_fan_speed_rpm") == {
        (("fan", i),): int(v) for i, v in speeds.items()
    }

    # SLX: SW-MIB swSensorTable, typed temperature (1), fan (2), power supply (3)
    community = "extreme/slxos_slx9150"
    samples = await _probe(client, snmpsim_server.port, community)
    sw = "1.3.6.1.4.1.1588.2.1.1.1.1.22.1"
    types = corpus.column(community, f"{sw}.2")
    names = corpus.column(community, f"{sw}.5")
    values = corpus.column(community, f"{sw}.4")
    by_type = {t: {names[i]: int(values[i]) for i in types if types[i] == t} for t in "123"}
    assert series(samples, "chm_temperature_celsius") == {
        (("sensor", n),): v for n, v in by_type["1"].items()
    }
    assert series(samples, "chm_fan_speed_rpm") == {
        (("fan", n),): v for n, v in by_type["2"].items()
    }
    assert series(samples, "chm_psu_up") == {
        (("psu", n), ("state", "nominal")): 1 for n in by_type["3"]
    }
    # memory: total .2 and free .3 in KB
    mem = "1.3.6.1.4.1.1588.3.1.13.1.1.1"
    total, free = (int(corpus.column(community, f"{mem}.{c}")["1"]) * 1024 for c in (2, 3))
    assert one(samples, "chm_memory_used_bytes", pool="1") == total - free
    assert one(samples, "chm_memory_free_bytes", pool="1") == free

    community = "extreme/voss_8608"
    samples = await _probe(client, snmpsim_server.port, community)
    khi = "1.3.6.1.4.1.2272.1.85.10.1.1"
    used = int(corpus.column(community, f"{khi}.6")["1"]) * 1024
    free = int(corpus.column(community, f"{khi}.7")["1"]) * 1024
    assert one(samples, "chm_memory_used_bytes", pool="1") == used
    assert one(samples, "chm_memory_free_bytes", pool="1") == free
    # rcKhiSlotMemUtil agrees with used / (used + free).
    assert round(100 * used / (used + free)) == int(corpus.column(community, f"{khi}.8")["1"])
    assert one(samples, "chm_cpu_utilization_ratio", cpu="2") == pytest.approx(
        int(corpus.column(community, f"{khi}.3")["2"]) / 100
    )
    psus = series(samples, "chm_psu_up")
    assert len(psus) == 4
    assert set(psus.values()) == {1}


async def test_arista_dom_power_in_watts_becomes_dbm(
    client: Client, snmpsim_server: Snmpsim
) -> None:
    community = "arista_eos/arista_eos"
    samples = await _probe(client, snmpsim_server.port, community)
    # Ethernet1: TX sensor 100301212 reads 6322 at scale milli(8), precision 4 -> 0.6322 mW
    raw = recorded_int(community, "1.3.6.1.2.1.99.1.1.1.4.100301212")
    expected = 10 * math.log10(raw * 1e-3 * 1e-4 * 1000)
    got = one(samples, "chm_optic_tx_power_dbm", ifname="Ethernet1", lane="1")
    assert got == pytest.approx(expected)
    assert got == pytest.approx(-1.99, abs=0.01)
    # Ethernet2's RX sensor reads -1000000000 (no reading): no series, never a fake value
    assert ("chm_optic_rx_power_dbm", (("ifname", "Ethernet2"), ("lane", "1"))) not in samples
