"""The prober table and the `Module` model agree; the table is the one place with names."""

import pytest

from chm_exporter import probers
from chm_exporter.config import IcmpSettings, Module
from chm_exporter.probers import PROBERS, Prober, check_module_fields
from chm_exporter.probers import icmp as icmp_prober


def test_module_fields_match_the_prober_table() -> None:
    check_module_fields()
    assert set(PROBERS) == {"snmp", "icmp", "ssh"}


def test_a_prober_missing_from_module_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = Prober(IcmpSettings, icmp_prober.IcmpRaw, icmp_prober.collect, icmp_prober.emit)
    monkeypatch.setitem(probers.PROBERS, "http", extra)
    with pytest.raises(TypeError, match="Module prober fields"):
        check_module_fields()


def test_a_settings_model_that_drifted_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    snmp = PROBERS["snmp"]
    monkeypatch.setitem(
        probers.PROBERS, "icmp", Prober(snmp.settings, snmp.new_raw, snmp.collect, snmp.emit)
    )
    with pytest.raises(TypeError, match=r"Module\.icmp"):
        check_module_fields()


def test_settings_of_reads_only_the_probers_a_module_has() -> None:
    module = Module(icmp=IcmpSettings())
    assert probers.settings_of(module, "snmp") is None
    assert isinstance(probers.settings_of(module, "icmp"), IcmpSettings)
