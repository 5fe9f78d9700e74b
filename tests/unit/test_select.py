"""module=auto: the longest matching sysObjectID prefix wins; sysDescr separates shared ones."""

from chm_exporter.profiles.loader import load_profiles, parse_profile
from chm_exporter.profiles.model import Profile
from chm_exporter.profiles.select import choose_profiles


def _p(name: str, prefixes: str, descr: str | None = None) -> tuple[str, Profile]:
    extra = f", sys_descr: '{descr}'" if descr else ""
    return name, parse_profile(
        f"name: {name}\nmatch: {{sys_object_id: [{prefixes}]{extra}}}\n", name
    )


PROFILES = dict(
    [
        _p("cisco_ios", "1.3.6.1.4.1.9"),
        _p("cisco_nxos", "1.3.6.1.4.1.9.12.3.1.3"),
        _p("cisco_nxos_by_descr", "1.3.6.1.4.1.9.1", "NX-OS"),
        _p("juniper", "1.3.6.1.4.1.2636"),
    ]
)


def test_longest_prefix_wins() -> None:
    assert choose_profiles("1.3.6.1.4.1.9.12.3.1.3.1084", "", PROFILES) == ("cisco_nxos",)
    assert choose_profiles("1.3.6.1.4.1.9.1.1208", "IOS", PROFILES) == ("cisco_ios",)


def test_sys_descr_regex_must_match_too() -> None:
    got = choose_profiles("1.3.6.1.4.1.9.1.1208", "Cisco NX-OS(tm) n5000", PROFILES)
    assert got == ("cisco_nxos_by_descr",)


def test_prefix_matches_whole_sub_identifiers_only() -> None:
    # 1.3.6.1.4.1.26360 is not under 1.3.6.1.4.1.2636
    assert choose_profiles("1.3.6.1.4.1.26360.1", "", PROFILES) == ("system", "if_mib")


def test_unknown_vendor_gets_the_standard_fallback() -> None:
    standard = {**PROFILES, "standard": parse_profile("name: standard\n", "s")}
    assert choose_profiles("1.3.6.1.4.1.99999.1", "", standard) == ("standard",)


def test_a_left_out_prefix_falls_back_and_whole_sub_identifiers_count() -> None:
    vendor = parse_profile(
        "name: vrp\nmatch: {sys_object_id: [1.3.6.1.4.1.2011],"
        " not_sys_object_id: [1.3.6.1.4.1.2011.2.235]}\n",
        "vrp",
    )
    profiles = {"vrp": vendor, "standard": parse_profile("name: standard\n", "s")}
    assert choose_profiles("1.3.6.1.4.1.2011.2.235", "", profiles) == ("standard",)
    assert choose_profiles("1.3.6.1.4.1.2011.2.235.1.1", "", profiles) == ("standard",)
    assert choose_profiles("1.3.6.1.4.1.2011.2.2350", "", profiles) == ("vrp",)
    assert choose_profiles("1.3.6.1.4.1.2011.2.23.276", "", profiles) == ("vrp",)


def test_shipped_huawei_profile_leaves_servers_and_storage_to_the_standard_mibs() -> None:
    shipped = load_profiles()
    # sysObjectID and sysDescr as snmpsim-data's recordings give them
    assert choose_profiles("1.3.6.1.4.1.2011.2.235", "Hardware management system", shipped) == (
        "standard",
    )
    assert choose_profiles("1.3.6.1.4.1.2011.2.91", "ISM SNMP Agent", shipped) == ("standard",)
    assert choose_profiles("1.3.6.1.4.1.2011.2.279.3", "S12704", shipped) == ("huawei_vrp",)


def test_shipped_cisco_ios_profile_leaves_aireos_controllers_to_the_standard_mibs() -> None:
    shipped = load_profiles()
    assert choose_profiles("1.3.6.1.4.1.9.1.2427", "Cisco Controller", shipped) == ("standard",)
    ios = "Cisco IOS Software, C3750 Software (C3750-IPSERVICESK9-M), Version 12.2(55)SE5"
    assert choose_profiles("1.3.6.1.4.1.9.1.516", ios, shipped) == ("cisco_ios",)
