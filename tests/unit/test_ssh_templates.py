"""Our own TextFSM templates (chm_exporter/ssh/templates), each against the real recordings it
exists for: the records it finds agree with Genie's or ntc-templates' parse of the same text."""

from __future__ import annotations

from pathlib import Path

import pytest

from chm_exporter.ssh.parse import parse
from chm_exporter.ssh.profile import PROFILE_DIR, TEMPLATE_DIR, load_cli_profile
from tests.integration.test_ssh_corpus import expected
from tests.servers.ssh_device import CORPUS, read_recording

GENIE = CORPUS / "cli_genie"
CLI = CORPUS / "cli"


def _records(template: str, path: Path) -> list[dict[str, str]]:
    return parse(f"chm:{template}", read_recording(path))


def test_cisco_ios_show_environment() -> None:
    path = GENIE / "ios/ShowEnvironment/golden_output_output.txt"
    want = {
        (slot, name, sensor["reading"])
        for slot, item in expected(path)["slot"].items()
        for name, sensor in item["sensor"].items()
    }
    got = {
        (r["slot"], r["sensor"], f"{r['reading']} {r['unit']}")
        for r in _records("cisco_ios_show_environment", path)
    }
    assert got == want


@pytest.mark.parametrize(
    "path",
    [
        GENIE / "iosxe_cat9k_c9300/ShowEnvironmentAll/golden_output_output.txt",
        GENIE / "iosxe_cat3k_c3850/ShowEnvironmentAll/golden_output_c3850_output.txt",
    ],
)
def test_cisco_iosxe_show_environment_all(path: Path) -> None:
    records = _records("cisco_iosxe_show_environment_all", path)
    switches = expected(path)["switch"]
    fans = {(r["switch"], r["fan"], r["fan_state"].upper()) for r in records if r["fan"]}
    assert fans == {
        (sw, n, f["state"].upper()) for sw, item in switches.items() for n, f in item["fan"].items()
    }
    temps = {
        (r["switch"], r["sensor"].lower(), r["celsius"], r["red"]) for r in records if r["sensor"]
    }
    assert temps == {
        (sw, key.split("_")[0], t["value"], t["red_threshold"])
        for sw, item in switches.items()
        for key, t in item.items()
        if key.endswith("_temperature")
    }
    psus = {(r["psu"], r["psu_serial"]) for r in records if r["psu"]}
    assert psus == {
        (f"{sw}{'AB'[int(n) - 1]}", p.get("serial_number", ""))
        for sw, item in switches.items()
        for n, p in item["power_supply"].items()
    }


def test_juniper_junos_show_chassis_environment() -> None:
    path = GENIE / "junos/ShowChassisEnvironment/golden_output_output.txt"
    items = expected(path)["environment-information"]["environment-item"]
    records = _records("juniper_junos_show_chassis_environment", path)
    assert [(r["class"], r["name"], r["status"]) for r in records] == [
        (i["class"], i["name"], i["status"]) for i in _with_class(items)
    ]
    assert [r["celsius"] for r in records] == [
        i.get("temperature", {}).get("@junos:celsius", "") for i in items
    ]


def _with_class(items: list[dict[str, str]]) -> list[dict[str, str]]:
    """Genie names the class only on each class's first row; ours fills it down."""
    current = ""
    out = []
    for item in items:
        current = item.get("class", current)
        out.append({**item, "class": current})
    return out


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (GENIE / "junos/ShowInterfaces/golden_output_1_output.txt", "genie"),
        (CLI / "juniper_junos/show_interfaces/juniper_junos_show_interfaces.raw", "ntc"),
    ],
)
def test_juniper_junos_show_interfaces(path: Path, kind: str) -> None:
    records = _records("juniper_junos_show_interfaces", path)
    got = [(r["interface"], r["admin"], r["link"]) for r in records]
    if kind == "genie":
        want = [
            (p["name"], p["admin-status"]["@junos:format"], p["oper-status"])
            for p in expected(path)["interface-information"]["physical-interface"]
        ]
    else:
        want = [
            (r["interface"], r["admin_state"], r["link_status"])
            for r in expected(path)
            if "." not in r["interface"]
        ]
    assert got == want


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (GENIE / "ios/ShowProcessesCpu/golden_output_output.txt", "one_min_cpu"),
        (CLI / "cisco_ios/show_processes_cpu/cisco_ios_show_processes_cpu.raw", "cpu_usage_1_min"),
    ],
)
def test_cisco_ios_show_processes_cpu(path: Path, field: str) -> None:
    records = _records("cisco_ios_show_processes_cpu", path)
    want = expected(path)
    want = want[0] if isinstance(want, list) else want
    assert [r["cpu_1_min"] for r in records] == [str(want[field])]


def test_every_template_of_ours_is_used_and_tested() -> None:
    ours = {p.stem for p in TEMPLATE_DIR.glob("*.textfsm")}
    used = {
        name.removeprefix("chm:")
        for profile in PROFILE_DIR.glob("*.yaml")
        for command in load_cli_profile(profile.stem).commands
        for name in command.templates
        if name.startswith("chm:")
    }
    tested = {name.removeprefix("test_") for name in globals() if name.startswith("test_")}
    assert ours == used
    assert ours <= tested


# Not a recording: the EX-series layout of Juniper's documentation, where a class word is followed
# by one space ("Power FPC 0 ...") and fans print words instead of RPM.
EX_CHASSIS_ENVIRONMENT = """\
Class Item                           Status     Measurement
Power FPC 0 Power Supply 0           OK
      FPC 0 Power Supply 1           Absent
Temp  FPC 0 CPU                      OK         46 degrees C / 114 degrees F
Fans  FPC 0 Fan Tray 0 Fan 0         OK         Spinning at normal speed
      FPC 0 Fan Tray 0 Fan 1         Failed     Spinning at low speed
"""


def test_juniper_junos_show_chassis_environment_ex_layout() -> None:
    records = parse("chm:juniper_junos_show_chassis_environment", EX_CHASSIS_ENVIRONMENT)
    assert [(r["class"], r["name"], r["status"], r["celsius"]) for r in records] == [
        ("Power", "FPC 0 Power Supply 0", "OK", ""),
        ("Power", "FPC 0 Power Supply 1", "Absent", ""),
        ("Temp", "FPC 0 CPU", "OK", "46"),
        ("Fans", "FPC 0 Fan Tray 0 Fan 0", "OK", ""),
        ("Fans", "FPC 0 Fan Tray 0 Fan 1", "Failed", ""),
    ]


def test_cisco_iosxe_show_environment_all_with_an_airflow_column() -> None:
    """Not a recording: later Catalyst 9300 releases add an airflow column to the fan table."""
    text = (
        "Switch   FAN     Speed   State   Airflow direction\n"
        "---------------------------------------------------\n"
        "  1       1     14240     OK     Front to Back\n"
        "  1       2     0         NOT PRESENT\n"
    )
    records = parse("chm:cisco_iosxe_show_environment_all", text)
    assert [(r["fan"], r["fan_state"]) for r in records] == [("1", "OK"), ("2", "NOT PRESENT")]
