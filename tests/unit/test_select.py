"""module=auto: the longest matching sysObjectID prefix wins; sysDescr separates shared ones."""

from chm_exporter.profiles.loader import parse_profile
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
