"""Every recorded CLI output with an expected parse, served by the emulator and read by the
exporter over SSH: the metrics agree with what ntc-templates' tests (``*.yml``) or Genie's tests
(``*_expected.py``) say the output holds. The recording's own expectation is the oracle."""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from chm_exporter.ssh.logs import severity_name
from chm_exporter.ssh.profile import load_cli_profile
from tests.integration.ssh_lab import ENABLE, Scrape, lab_app, lab_config, scrape
from tests.servers.ssh_device import (
    PLATFORMS,
    SshDevice,
    corpus_outputs,
    corpus_recordings,
    read_recording,
)
from tests.unit.clients import Client

Oracle = Callable[[Any, Scrape], None]

# Recordings the profiles deliberately do not read, and why.
UNUSED = {
    ("hp_procurve", "show version"): "prints no model or serial; show system is read instead",
    ("cisco_iosxe", "show environment"): "IOS-XE reads show environment all",
    (
        "cisco_iosxe",
        "show environment power all",
    ): "IOS-XE reads its supplies from show environment all",
}


def expected(path: Path) -> Any:
    """The expected parse beside a recording: ntc's parsed_sample list or Genie's dict."""
    if path.suffix == ".raw":
        return yaml.safe_load(path.with_suffix(".yml").read_text())["parsed_sample"]
    source = path.with_name(path.name.replace("_output.txt", "_expected.py")).read_text()
    assign = ast.parse(source).body[0]
    assert isinstance(assign, ast.Assign)
    return ast.literal_eval(assign.value)


def _one(scrape: Scrape, name: str) -> dict[str, str]:
    labels = scrape.labelled(name)
    assert len(labels) == 1, f"{name}: {labels}"
    return labels[0]


def _value(scrape: Scrape, name: str, **labels: str) -> float:
    for key, value in scrape.series(name).items():
        if all(dict(key).get(k) == v for k, v in labels.items()):
            return value
    raise AssertionError(f"no {name}{labels} in {sorted(scrape.series(name))}")


def _first(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) and value else str(value or "")


def identity(model: str, version: str, serial: str, host: str | None) -> Oracle:
    """chm_device_info carries the recorded model, version, serial (and name)."""

    def check(parsed: Any, result: Scrape) -> None:
        record = parsed[0]
        info = _one(result, "chm_device_info")
        assert info["model"] == _first(record[model])
        assert info["os_version"] == _first(record[version])
        assert info["serial"] == _first(record.get(serial, ""))
        if host is not None:
            assert info["sys_name"] == record[host]

    return check


def fastiron_identity(parsed: Any, result: Scrape) -> None:
    """Either FastIron generation's show version: model, version and serial."""
    record = parsed[0]
    info = _one(result, "chm_device_info")
    assert info["model"] == record.get("hardware", record.get("hw"))
    assert info["os_version"] == _first(record.get("version", record.get("sw_version")))
    assert info["serial"] == _first(record["serial"])


def interfaces(name: str, up: Callable[[dict[str, Any]], bool], keep: str = ".*") -> Oracle:
    """One chm_interface_up per recorded interface, 1 exactly where the record says up."""

    def check(parsed: Any, result: Scrape) -> None:
        want = {r[name]: up(r) for r in parsed if re.fullmatch(keep, r[name])}
        got = {dict(k)["ifname"]: v for k, v in result.series("chm_interface_up").items()}
        assert got == {k: int(v) for k, v in want.items()}

    return check


def aoscx_interfaces(parsed: Any, result: Scrape) -> None:
    interfaces("interface", lambda r: r["link_status"] == "up")(parsed, result)
    for record in parsed:
        if record["rx_total_bytes"]:
            got = _value(result, "chm_interface_receive_bytes_total", ifname=record["interface"])
            assert got == int(record["rx_total_bytes"])


def procurve_interfaces(parsed: Any, result: Scrape) -> None:
    got = {
        dict(k)["ifname"]: v for k, v in result.series("chm_interface_receive_errors_total").items()
    }
    assert got == {r["port"]: int(r["errors_rx"].replace(",", "")) for r in parsed}


def junos_genie_interfaces(parsed: Any, result: Scrape) -> None:
    physical = parsed["interface-information"]["physical-interface"]
    got = {dict(k)["ifname"]: v for k, v in result.series("chm_interface_up").items()}
    assert got == {p["name"]: int(p["oper-status"] == "Up") for p in physical}


def neighbors(protocol: str) -> Oracle:
    """One chm_neighbor_info per recorded neighbour (identical records count once)."""

    def check(parsed: Any, result: Scrape) -> None:
        mine = [n for n in result.labelled("chm_neighbor_info") if n["protocol"] == protocol]
        keys = {(r["local_interface"], r["neighbor_interface"], r["neighbor_name"]) for r in parsed}
        assert len(mine) == len(keys)
        assert {n["remote_sys_name"] for n in mine} == {r["neighbor_name"] for r in parsed}
        assert {n["local_ifname"] for n in mine} == {r["local_interface"] for r in parsed}

    return check


def cpu(field: str, transform: Callable[[float], float] = lambda v: v / 100) -> Oracle:
    """chm_cpu_utilization_ratio is the recorded one-minute figure."""

    def check(parsed: Any, result: Scrape) -> None:
        record = parsed[0] if isinstance(parsed, list) else parsed
        want = transform(float(record[field]))
        assert _value(result, "chm_cpu_utilization_ratio") == pytest.approx(want)

    return check


def ios_power(parsed: Any, result: Scrape) -> None:
    got = {dict(k)["psu"]: v for k, v in result.series("chm_psu_up").items()}
    assert got == {f"PS {r['ps_module']}": int(r["sys_pwr"] == "Good") for r in parsed}


def ios_genie_environment(parsed: Any, result: Scrape) -> None:
    want = {
        f"{slot} {name}": float(sensor["reading"].split()[0])
        for slot, item in parsed["slot"].items()
        for name, sensor in item["sensor"].items()
        if sensor["reading"].endswith("Celsius")
    }
    got = {dict(k)["sensor"]: v for k, v in result.series("chm_temperature_celsius").items()}
    assert got == want


def iosxe_genie_environment(parsed: Any, result: Scrape) -> None:
    fans = {
        f"Switch {sw} Fan {fan}": int(state["state"].upper() == "OK")
        for sw, item in parsed["switch"].items()
        for fan, state in item.get("fan", {}).items()
    }
    got_fans = {dict(k)["fan"]: v for k, v in result.series("chm_fan_up").items()}
    assert got_fans == fans
    temps = {
        f"Switch {sw} {key.split('_')[0].capitalize()}": float(value["value"])
        for sw, item in parsed["switch"].items()
        for key, value in item.items()
        if key.endswith("_temperature")
    }
    got = {dict(k)["sensor"]: v for k, v in result.series("chm_temperature_celsius").items()}
    assert got == temps
    for sw, item in parsed["switch"].items():
        for key, value in item.items():
            if key.endswith("_temperature"):
                sensor = f"Switch {sw} {key.split('_')[0].capitalize()}"
                assert _value(
                    result, "chm_temperature_threshold_celsius", sensor=sensor, level="critical"
                ) == float(value["red_threshold"])
    psus = {
        f"PS {sw}{'AB'[int(n) - 1]}": int(p["state"].upper() == "OK")
        for sw, item in parsed["switch"].items()
        for n, p in item.get("power_supply", {}).items()
        if p["state"].upper() != "NOT PRESENT"
    }
    assert {dict(k)["psu"]: v for k, v in result.series("chm_psu_up").items()} == psus


def junos_genie_environment(parsed: Any, result: Scrape) -> None:
    items = parsed["environment-information"]["environment-item"]
    temps = {
        i["name"]: float(i["temperature"]["@junos:celsius"])
        for i in items
        if i["class"] == "Temp" and "temperature" in i
    }
    got = {dict(k)["sensor"]: v for k, v in result.series("chm_temperature_celsius").items()}
    assert got == temps
    fans = {i["name"]: int(i["status"] == "OK") for i in items if i["class"] == "Fans"}
    assert {dict(k)["fan"]: v for k, v in result.series("chm_fan_up").items()} == fans


def nxos_environment(parsed: Any, result: Scrape) -> None:
    fans = {r["fan"]: int(r["fan_status"] == "Ok") for r in parsed if r["fan"]}
    assert {dict(k)["fan"]: v for k, v in result.series("chm_fan_up").items()} == fans
    temps = {
        f"Module {r['temperature_module']} {r['temperature_sensor']}": float(
            r["temperature_current"]
        )
        for r in parsed
        if r["temperature_sensor"]
    }
    got = {dict(k)["sensor"]: v for k, v in result.series("chm_temperature_celsius").items()}
    assert got == temps
    psus = {
        f"PS {r['power_supply']}": int(r["power_supply_status"] == "Ok")
        for r in parsed
        if r["power_supply"]
    }
    assert {dict(k)["psu"]: v for k, v in result.series("chm_psu_up").items()} == psus


def eos_temperature(parsed: Any, result: Scrape) -> None:
    want = {f"{r['module']} {r['description']}": float(r["current_value"]) for r in parsed}
    got = {dict(k)["sensor"]: v for k, v in result.series("chm_temperature_celsius").items()}
    assert got == want
    for r in parsed:
        sensor = f"{r['module']} {r['description']}"
        assert _value(
            result, "chm_temperature_threshold_celsius", sensor=sensor, level="warning"
        ) == float(r["alert_limit"])


def eos_power(parsed: Any, result: Scrape) -> None:
    want = {
        f"PowerSupply{r['power_supply_location']}": int(r["power_supply_status"] == "Ok")
        for r in parsed
    }
    assert {dict(k)["psu"]: v for k, v in result.series("chm_psu_up").items()} == want


def eos_top(parsed: Any, result: Scrape) -> None:
    cpu("global_cpu_percent_idle", lambda idle: 1 - idle / 100)(parsed, result)
    used = _value(result, "chm_memory_used_bytes", pool="system")
    assert used == int(parsed[0]["global_mem_used"]) * 1024


def procurve_system(parsed: Any, result: Scrape) -> None:
    identity("software_version", "software_version", "serial", "name")  # model: not printed
    record = parsed[0]
    info = _one(result, "chm_device_info")
    assert (info["os_version"], info["serial"], info["sys_name"]) == (
        record["software_version"],
        record["serial"],
        record["name"],
    )
    assert _value(result, "chm_cpu_utilization_ratio") == pytest.approx(
        int(record["cpu_util"]) / 100
    )
    free = int(record["mem_free"].replace(",", ""))
    assert _value(result, "chm_memory_free_bytes", pool="main") == free
    assert (
        _value(result, "chm_memory_used_bytes", pool="main")
        == int(record["mem_tot"].replace(",", "")) - free
    )


def inventory(parsed: Any, result: Scrape) -> None:
    want = {(r["name"], r["pid"], r["sn"]) for r in parsed}
    got = {(e["name"], e["model"], e["serial"]) for e in result.labelled("chm_entity_info")}
    assert got == want


_SYSLOG = re.compile(r"%([A-Z0-9_]+)-(\d)-([A-Z0-9_]+):")


def ntc_logging(parsed: Any, result: Scrape) -> None:
    want = {
        (severity_name(r["severity"]), r["facility"], r["mnemonic"])
        for r in parsed
        if r["severity"]
    }
    got = {
        (s["severity"], s["facility"], s["mnemonic"])
        for s in result.labelled("chm_log_messages_total")
    }
    assert got == want


def genie_logging(parsed: Any, result: Scrape) -> None:
    want = {
        (severity_name(m.group(2)), m.group(1), m.group(3))
        for line in parsed["logs"]
        if (m := _SYSLOG.search(line))
    }
    got = {
        (s["severity"], s["facility"], s["mnemonic"])
        for s in result.labelled("chm_log_messages_total")
    }
    assert got == want


def ios_version(parsed: Any, result: Scrape) -> None:
    """Identity, and the uptime from the separate fields ntc parses out of the text."""
    identity("hardware", "version", "serial", "hostname")(parsed, result)
    record = parsed[0]
    units = {"years": 365 * 86400, "weeks": 7 * 86400, "days": 86400, "hours": 3600, "minutes": 60}
    want = sum(int(record[f"uptime_{u}"] or 0) * s for u, s in units.items())
    assert _value(result, "chm_device_uptime_seconds") == want


_IOS = {
    "show version": ios_version,
    "show interfaces": interfaces("interface", lambda r: r["protocol_status"].startswith("up")),
    "show cdp neighbors detail": neighbors("cdp"),
    "show lldp neighbors detail": neighbors("lldp"),
    "show processes cpu": cpu("cpu_usage_1_min"),
    "show environment power all": ios_power,
    "show inventory": inventory,
    "show logging": ntc_logging,
}
ORACLES: dict[tuple[str, str, str], Oracle] = {
    **{("cisco_ios", c, "ntc"): o for c, o in _IOS.items()},
    **{("cisco_iosxe", c, "ntc"): o for c, o in _IOS.items() if c != "show environment power all"},
    ("cisco_ios", "show environment", "genie"): ios_genie_environment,
    ("cisco_ios", "show processes cpu", "genie"): cpu("one_min_cpu"),
    ("cisco_iosxe", "show processes cpu", "genie"): cpu("one_min_cpu"),
    ("cisco_iosxe", "show environment all", "genie"): iosxe_genie_environment,
    ("cisco_iosxe", "show logging", "genie"): genie_logging,
    ("cisco_nxos", "show version", "ntc"): identity("platform", "os", "serial", "hostname"),
    ("cisco_nxos", "show processes cpu", "ntc"): cpu("cpu_1_min"),
    ("cisco_nxos", "show environment", "ntc"): nxos_environment,
    ("cisco_nxos", "show interface", "ntc"): interfaces(
        "interface", lambda r: r["link_status"] == "up"
    ),
    ("cisco_nxos", "show cdp neighbors detail", "ntc"): neighbors("cdp"),
    ("juniper_junos", "show version", "ntc"): identity(
        "model", "junos_version", "serial_number", "hostname"
    ),
    ("juniper_junos", "show interfaces", "ntc"): interfaces(
        "interface", lambda r: r["link_status"] == "Up", keep=r"[^.]+"
    ),
    ("juniper_junos", "show interfaces", "genie"): junos_genie_interfaces,
    ("juniper_junos", "show chassis environment", "genie"): junos_genie_environment,
    ("arista_eos", "show version", "ntc"): identity("model", "image", "serial_number", None),
    ("arista_eos", "show interfaces", "ntc"): interfaces(
        "interface", lambda r: r["protocol_status"].startswith("up")
    ),
    ("arista_eos", "show lldp neighbors detail", "ntc"): neighbors("lldp"),
    ("arista_eos", "show environment temperature", "ntc"): eos_temperature,
    ("arista_eos", "show environment power", "ntc"): eos_power,
    ("arista_eos", "show processes top once", "ntc"): eos_top,
    ("aruba_aoscx", "show system", "ntc"): identity("product", "version", "serial", "hostname"),
    ("aruba_aoscx", "show interface", "ntc"): aoscx_interfaces,
    ("hp_procurve", "show system", "ntc"): procurve_system,
    ("hp_procurve", "show interfaces", "ntc"): procurve_interfaces,
    ("ruckus_fastiron", "show version", "ntc"): fastiron_identity,
    ("ruckus_fastiron", "show interfaces", "ntc"): interfaces(
        "interface", lambda r: r["protocol_status"] == "up"
    ),
    ("linux", "ip link show", "ntc"): interfaces(
        "interface", lambda r: r["state"] in ("UP", "UNKNOWN")
    ),
}


def _cases() -> list[Any]:
    cases = []
    for platform in PLATFORMS:
        for command, paths in corpus_recordings(platform).items():
            for path in paths:
                cases.append(pytest.param(platform, command, path, id=f"{platform}-{path.name}"))
    return cases


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return lab_config(tmp_path_factory.mktemp("ssh_corpus"))


@pytest.fixture
async def client(lab: Path) -> AsyncIterator[Client]:
    async with TestClient(TestServer(lab_app(lab))) as client:
        yield client


@pytest.mark.parametrize(("platform", "command", "path"), _cases())
async def test_recorded_output_gives_the_expected_metrics(
    client: Client, platform: str, command: str, path: Path
) -> None:
    run = {c.command for c in load_cli_profile(platform).commands}
    if command not in run:
        assert (platform, command) in UNUSED, f"{platform} does not run {command!r}: say why"
        return
    kind = "ntc" if path.suffix == ".raw" else "genie"
    oracle = ORACLES.get((platform, command, kind))
    assert oracle is not None, f"no oracle for {platform} {command!r} ({kind})"
    outputs = corpus_outputs(platform)
    outputs[command] = read_recording(path)
    async with SshDevice(platform, outputs, enable_password=ENABLE) as dev:
        if command in {c.command for c in load_cli_profile(platform).commands if c.logs}:
            await scrape(client, dev)  # the first scrape sets the log baseline
        result = await scrape(client, dev)
    assert result.success() == 1, result.debug
    oracle(expected(path), result)
