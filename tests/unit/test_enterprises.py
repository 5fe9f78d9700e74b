"""The IANA enterprise-number table shipped as package data, and the script that writes it."""

from __future__ import annotations

from importlib import resources

import pytest

from scripts import enterprises as script


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Fortinet, Inc.", "fortinet"),
        ("Juniper Networks, Inc.", "juniper_networks"),
        ("Zhongxing Telecom Co.,ltd. (abbr. ZTE)", "zhongxing_telecom"),
        ("IBM (https://w3.ibm.com/standards )", "ibm"),
        ("The Written Word, Inc.", "written_word"),
        ("Changsha Asterfusion Data Technologies  Co.,Ltd", "changsha_asterfusion_data"),
        ("KONICA MINOLTA HOLDINGS, INC.", "konica_minolta_holdings"),
    ],
)
def test_slug_is_the_name_without_legal_suffixes(name: str, expected: str) -> None:
    assert script.slug(name) == expected


def test_overrides_name_vendors_as_the_profiles_do() -> None:
    text = script.render({9: "ciscoSystems", 318: "American Power Conversion Corp."}, {318: "apc"})
    assert text.splitlines()[3:] == ["9\tciscosystems", "318\tapc"]


def test_shipped_table_is_what_the_script_writes_from_the_registry() -> None:
    if not script.REGISTRY.exists():
        pytest.fail(f"{script.REGISTRY} missing: scripts/setup.sh installs libwireshark-data")
    registry = script.parse_registry(script.REGISTRY.read_text(encoding="utf-8"))
    expected = script.render(registry, script.load_overrides())
    shipped = resources.files("chm_exporter.profiles.data").joinpath("enterprises.tsv").read_text()
    assert shipped == expected, "run scripts/enterprises.py and commit the result"
    rows = dict(line.split("\t") for line in shipped.splitlines() if not line.startswith("#"))
    assert (rows["9"], rows["2011"], rows["12356"], rows["25461"], rows["318"]) == (
        "cisco",
        "huawei",
        "fortinet",
        "paloalto",
        "apc",
    )
