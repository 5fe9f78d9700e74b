"""Identity rules: a label's `rewrite`, the next column when a regex misses, and the shipped
profiles' rules that name a device the way it names itself (the Linux machine, the FortiGate
model code, the Cisco containment root, the AOS-CX chassis description, ...)."""

from __future__ import annotations

import pytest

from chm_exporter.exposition import MetricSink
from chm_exporter.profiles import WalkResult, evaluate_profiles, load_profiles
from chm_exporter.profiles.loader import expand_includes, parse_profile
from chm_exporter.profiles.model import Profile
from chm_exporter.profiles.values import RawValue
from scripts import products as products_script

SYS_DESCR = "1.3.6.1.2.1.1.1.0"
ENT_MODEL = "1.3.6.1.2.1.47.1.1.1.1.13"
ENT_DESCR = "1.3.6.1.2.1.47.1.1.1.1.2"
ENT_CONTAINED_IN = "1.3.6.1.2.1.47.1.1.1.1.4"
ENT_CLASS = "1.3.6.1.2.1.47.1.1.1.1.5"
ENT_SERIAL = "1.3.6.1.2.1.47.1.1.1.1.11"
PROFILES = load_profiles()


def _info(profiles: list[Profile], columns: dict[str, dict[str, RawValue]]) -> dict[str, str]:
    result = WalkResult()
    result.columns.update(columns)
    sink = MetricSink()
    evaluate_profiles(profiles, result, sink)
    family = sink.get("chm_device_info")
    assert family is not None
    ((labels, _),) = family.samples.items()
    return dict(zip(family.label_names, labels, strict=True))


def _shipped(name: str, columns: dict[str, dict[str, RawValue]]) -> dict[str, str]:
    return _info(expand_includes([name], dict(PROFILES)), columns)


def _descr(text: str) -> dict[str, dict[str, RawValue]]:
    return {SYS_DESCR: {"": text.encode()}}


REWRITE = r"""
name: rw
device_info:
  model:
    oid: [1.3.6.1.2.1.1.1.0, 1.3.6.1.2.1.1.5.0]
    regex: '^Model (\S+)|^(\S+) box$'
    rewrite:
      - {regex: '^AB_(.+)$', to: 'Alpha Beta \1'}
      - {regex: '^AB', to: never reached}
"""


@pytest.mark.parametrize(
    ("descr", "name", "model"),
    [
        ("Model AB_100", "", "Alpha Beta 100"),  # the first rule that matches renames it
        ("Model CD_7", "", "CD_7"),  # no rule matches: the text stays
        ("CD_8 box", "", "CD_8"),  # the second alternative's own group
        ("something else", "Model AB_9", "Alpha Beta 9"),  # regex missed: the next column
        ("something else", "no match here", ""),  # no column matches: no model
    ],
)
def test_rewrite_and_next_column(descr: str, name: str, model: str) -> None:
    columns: dict[str, dict[str, RawValue]] = {
        SYS_DESCR: {"": descr.encode()},
        "1.3.6.1.2.1.1.5.0": {"": name.encode()},
    }
    profile = parse_profile(REWRITE, "rw.yaml")
    got = _info(
        [profile, parse_profile("name: v\ndevice_info: {vendor: {value: x}}", "v")], columns
    )
    assert got["model"] == model


@pytest.mark.parametrize(
    ("descr", "model"),
    [
        ("Linux h 4.9.0 #1 SMP Mon Dec 12 14:44:53 CST 2016 x86_64", "Generic x86 64-bit"),
        ("Linux cray 2.6.21.5-smp #2 SMP Tue Jun 19 14:58:11 CDT 2007 i686", "Generic x86"),
        (
            "Linux pi 6.1.21-v8+ #1642 SMP PREEMPT Mon Apr  3 17:24:16 BST 2023 aarch64",
            "Generic ARMv8 64-bit",
        ),
        ("Linux pi 5.10.17-v7+ #1414 SMP Fri Apr 30 13:18:35 BST 2021 armv7l", "Generic ARMv7"),
        ("Linux r 4.14.0 #0 Sat May 1 2021 mips", "Generic MIPS"),
        ("Linux p 5.14.0 #1 SMP Wed Jan 5 2022 ppc64le", "ppc64le"),  # unknown: as uname says
        ("Linux h 4.9.0 #1 SMP Mon Dec 12 14:44:53 CST 2016", ""),  # no machine field
    ],
)
def test_linux_model_is_the_sysdescr_machine(descr: str, model: str) -> None:
    assert _shipped("linux_netsnmp", _descr(descr))["model"] == model


@pytest.mark.parametrize(
    ("code", "model"),
    [
        (b"FGT_100E", "FortiGate 100E"),
        (b"FWF_60D", "FortiWiFi 60D"),
        (b"FGR_60F_3G4G", "FortiGate Rugged 60F_3G4G"),
        (b"FGVM64", "FGVM64"),  # a code the rules do not spell out stays as it is
    ],
)
def test_fortigate_model_code_spelt_out(code: bytes, model: str) -> None:
    columns: dict[str, dict[str, RawValue]] = {ENT_MODEL: {"1": code}, ENT_CLASS: {"1": 3}}
    assert _shipped("fortinet_fortigate", columns)["model"] == model


def test_cisco_model_is_the_containment_root_where_it_has_one() -> None:
    stack: dict[str, dict[str, RawValue]] = {
        ENT_MODEL: {"1": b"AIR-CT5760", "1000": b"AIR-CT5760-E"},
        ENT_CONTAINED_IN: {"1": 0, "1000": 1},
        ENT_CLASS: {"1": 11, "1000": 3},
    }
    assert _shipped("cisco_ios", stack)["model"] == "AIR-CT5760"
    stack[ENT_MODEL]["1"] = b""  # a root without a model: the first chassis row's
    assert _shipped("cisco_ios", stack)["model"] == "AIR-CT5760-E"


@pytest.mark.parametrize(
    ("descr", "model"),
    [
        ("Cisco IOS XR Software (Cisco ASR9K Series),  Version 5.3.4[Default]", "ASR9K Series"),
        ("Cisco IOS XR Software (NCS-5500), Version 6.6.3  Copyright (c)", "NCS-5500"),
    ],
)
def test_iosxr_model_from_sysdescr_without_a_chassis(descr: str, model: str) -> None:
    assert _shipped("cisco_iosxr", _descr(descr))["model"] == model


def test_aoscx_model_is_the_chassis_description_else_the_sysdescr_name() -> None:
    sysdescr = "Aruba JL635A 8325 GL.10.04.2000"
    columns = _descr(sysdescr) | {
        ENT_DESCR: {"1": b"Aruba 8325 1-slot Chassis"},
        ENT_MODEL: {"1": b"JL635A"},
        ENT_CLASS: {"1": 3},
    }
    assert _shipped("aruba_aoscx", columns)["model"] == "Aruba 8325 1-slot Chassis"
    nac = _descr("Aruba JL679A 6100 12G CL4 2SFP+ 139W Swch PL.10.08.1050")
    assert _shipped("aruba_aoscx", nac)["model"] == "6100 12G CL4 2SFP+ 139W"


@pytest.mark.parametrize(
    ("descr", "model"),
    [
        (
            "Ethernet Routing Switch 5530-24TFD    HW:32       FW:6.0.0.18  SW:v6.3.2.011",
            "ERS-5530-24TFD",
        ),
        ("Virtual Services Platform 4850GTS  HW:01  FW:5.3.0.0  SW:v5.3.0.000", "VSP-4850GTS"),
    ],
)
def test_boss_model_is_the_family_short_name_and_model(descr: str, model: str) -> None:
    assert _shipped("extreme_boss", _descr(descr))["model"] == model


def test_junos_custom_sysdescr_falls_back_to_box_description_and_installed_release() -> None:
    columns = _descr("Juniper SRX240B gsm-fw") | {
        "1.3.6.1.4.1.2636.3.1.2.0": {"": b"Juniper SRX240H Internet Router"},
        "1.3.6.1.2.1.25.6.3.1.2.2": {"": b"JUNOS Software Release [12.1X46-D86]"},
    }
    info = _shipped("juniper_junos", columns)
    assert (info["model"], info["os_version"]) == ("Juniper SRX240H Internet Router", "12.1X46-D86")
    standard = _descr(
        "Juniper Networks, Inc. mx80 internet router, kernel JUNOS 16.2R2.8, Build date: ..."
    ) | {"1.3.6.1.4.1.2636.3.1.2.0": {"": b"Juniper MX80 Internet Router"}}
    info = _shipped("juniper_junos", standard)
    assert (info["model"], info["os_version"]) == ("mx80", "16.2R2.8")
    virtual = _descr("hostname.example.org") | {
        "1.3.6.1.4.1.2636.3.1.2.0": {"": b"Juniper Virtual Chassis Switch"},
        "1.3.6.1.4.1.2636.3.1.3.0": {"": b"XR0123456789"},
    }
    assert _shipped("juniper_junos", virtual)["model"] == ""  # a stack names no model


@pytest.mark.parametrize(
    ("descr", "model"),
    [
        (
            '"S5720-56C-PWR-EI-AC\nHuawei Versatile Routing Platform Software\r\n VRP (R) software,'
            "Version 5.170 (S5720 V200R019C10SPC500)",
            "S5720-56C-PWR-EI-AC",
        ),
        (
            "Huawei Versatile Routing Platform Software\nVRP (R) software, Version 8.150 (CE12800 "
            "V200R002C50SPC800) \r\nCopyright (C) 2012-2017 Huawei Technologies Co., Ltd.",
            "CE12800",
        ),
    ],
)
def test_vrp_model_line_else_the_release_platform(descr: str, model: str) -> None:
    assert _shipped("huawei_vrp", _descr(descr))["model"] == model


def test_vendor_system_serials_beat_the_entity_chassis_row() -> None:
    chassis: dict[str, dict[str, RawValue]] = {ENT_SERIAL: {"1": b"BOARD1"}, ENT_CLASS: {"1": 3}}
    huawei = chassis | {"1.3.6.1.4.1.2011.5.25.188.1.1.0": {"": b"ESN42"}}
    assert _shipped("huawei_vrp", huawei)["serial"] == "ESN42"
    panos = chassis | {"1.3.6.1.4.1.25461.2.1.2.1.3.0": {"": b"0123456789"}}
    assert _shipped("paloalto_panos", panos)["serial"] == "0123456789"
    assert _shipped("huawei_vrp", chassis)["serial"] == "BOARD1"  # no ESN: the chassis row's


@pytest.mark.parametrize(
    ("columns", "model", "version"),
    [
        (
            {
                "1.3.6.1.4.1.674.10895.3000.1.2.100.1.0": {"": b"PowerConnect 2824"},
                "1.3.6.1.4.1.674.10895.3000.1.2.100.4.0": {"": b"1.0.0.45"},
                SYS_DESCR: {"": b"24-port 10/100/1000 Gigabit Switch"},
            },
            "PowerConnect 2824",
            "1.0.0.45",
        ),
        (_descr("PowerConnect 6248, 3.3.7.3, VxWorks 6.5"), "PowerConnect 6248", "3.3.7.3"),
        (_descr("PowerConnect 5424"), "PowerConnect 5424", ""),
        (_descr("24-port 10/100/1000 Gigabit Switch"), "", ""),
    ],
)
def test_powerconnect_identity_from_dell_vendor_mib_else_sysdescr(
    columns: dict[str, dict[str, RawValue]], model: str, version: str
) -> None:
    info = _shipped("dell_powerconnect", columns)
    assert (info["model"], info["os_version"]) == (model, version)


SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"


def test_model_from_sysobjectid_only_where_no_profile_names_one() -> None:
    stack: dict[str, dict[str, RawValue]] = {SYS_OBJECT_ID: {"": "1.3.6.1.4.1.9.1.1208"}}
    assert _shipped("cisco_ios", stack)["model"] == "cat29xxStack"  # CISCO-PRODUCTS-MIB
    chassis = stack | {ENT_MODEL: {"1001": b"WS-C2960X-48FPS-L"}, ENT_CLASS: {"1001": 3}}
    assert _shipped("cisco_ios", chassis)["model"] == "WS-C2960X-48FPS-L"
    # a later profile's fallback (a sysDescr rule) comes before the product table too
    fallback = parse_profile(
        "name: fb\ndevice_info:\n  model: {oid: 1.3.6.1.2.1.1.1.0, regex: 'Model (\\S+)', "
        "fallback: true}\n",
        "fb.yaml",
    )
    described = stack | {SYS_DESCR: {"": b"Model X-1"}}
    assert _info([PROFILES["system"], fallback], described)["model"] == "X-1"
    unknown: dict[str, dict[str, RawValue]] = {SYS_OBJECT_ID: {"": "1.3.6.1.4.1.9.1.999999"}}
    assert _shipped("cisco_ios", unknown)["model"] == ""


def test_products_script_resolves_assignments_to_oids() -> None:
    mib = (
        "ciscoProductsMIB MODULE-IDENTITY ::= { ciscoModules 2 }\n"
        "cat29xxStack OBJECT IDENTIFIER ::= { ciscoProducts 1208 } -- a stack\n"
        "-- ciscoOld OBJECT IDENTIFIER ::= { ciscoProducts 7 }\n"
        "ciscoFamily\tOBJECT IDENTIFIER ::= { ciscoProducts 9000 }\n"
        "ciscoMember OBJECT IDENTIFIER ::= { ciscoFamily 3 }\n"
        "orphan OBJECT IDENTIFIER ::= { unknownParent 1 }\n"
    )
    products = products_script.resolve(products_script.parse_assignments(mib))
    assert products == {
        "1.3.6.1.4.1.9.1.1208": "cat29xxStack",
        "1.3.6.1.4.1.9.1.9000": "ciscoFamily",
        "1.3.6.1.4.1.9.1.9000.3": "ciscoMember",
    }
    text = products_script.render(products, ["CISCO-PRODUCTS-MIB"])
    rows = [line for line in text.splitlines() if not line.startswith("#")]
    assert rows[0] == "1.3.6.1.4.1.9.1.1208\tcat29xxStack"  # numeric OID order
    assert rows[-1] == "1.3.6.1.4.1.9.1.9000.3\tciscoMember"
