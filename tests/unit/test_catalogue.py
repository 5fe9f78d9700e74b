"""The metric catalogue: one HELP, type and label set per name, and profiles held to it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chm_exporter.catalogue import MetricDef, catalogue, parse_catalogue
from chm_exporter.errors import ConfigError
from chm_exporter.exposition import MetricSink
from chm_exporter.profiles import WalkResult, evaluate_profiles, load_profiles
from chm_exporter.profiles.loader import parse_profile
from chm_exporter.profiles.model import DEVICE_INFO_LABELS
from chm_exporter.selfmetrics import SelfMetrics

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _refusal(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_profile(text, "site/mine.yaml")
    return str(caught.value)


UP = "name: mine\ntables:\n  - name: t\n    labels: {labels}\n    metrics:\n      - {metric}\n"
IF_LABELS = "{ifindex: {index: 0}, ifname: {value: x}, ifalias: {value: y}}"


def test_a_catalogue_metric_takes_help_and_type_from_the_catalogue() -> None:
    profile = parse_profile(
        UP.format(labels=IF_LABELS, metric="{name: chm_interface_receive_bytes_total, oid: 1.3.6}"),
        "mine.yaml",
    )
    metric = profile.tables[0].metrics[0]
    known = catalogue()["chm_interface_receive_bytes_total"]
    assert (metric.help, metric.type) == (known.help, "counter")


def test_an_unknown_chm_metric_is_refused_naming_file_and_metric() -> None:
    message = _refusal(UP.format(labels="{}", metric="{name: chm_widget_level, oid: 1.3.6}"))
    assert message.startswith("site/mine.yaml: line 6: tables.0.metrics.0: ")
    assert "metric chm_widget_level is not in the metric catalogue" in message


def test_labels_other_than_the_catalogues_are_refused() -> None:
    labels = "{ifindex: {index: 0}, ifname: {value: x}}"
    message = _refusal(UP.format(labels=labels, metric="{name: chm_interface_up, oid: 1.3.6}"))
    assert message.startswith("site/mine.yaml: line 3: tables.0: ")
    assert "metric chm_interface_up has labels ['ifindex', 'ifname']" in message
    assert "the catalogue says ['ifindex', 'ifname', 'ifalias']" in message


def test_labels_in_another_order_are_refused() -> None:
    labels = "{ifname: {value: x}, ifindex: {index: 0}, ifalias: {value: y}}"
    message = _refusal(UP.format(labels=labels, metric="{name: chm_interface_up, oid: 1.3.6}"))
    assert "chm_interface_up has labels ['ifname', 'ifindex', 'ifalias']" in message


@pytest.mark.parametrize(
    ("stated", "says"),
    [
        ("type: gauge", "`type` comes from the metric catalogue"),
        ("type: counter", "`type` comes from the metric catalogue"),
        ("help: Octets.", "`help` comes from the metric catalogue"),
        ("help: Octets., type: counter", "`help` and `type` come from the metric catalogue"),
    ],
)
def test_a_profile_stating_help_or_type_of_a_catalogue_metric_is_refused(
    stated: str, says: str
) -> None:
    metric = f"{{name: chm_interface_receive_bytes_total, {stated}, oid: 1.3.6}}"
    message = _refusal(UP.format(labels=IF_LABELS, metric=metric))
    assert (
        "site/mine.yaml: line 6: tables.0.metrics.0: metric chm_interface_receive_bytes_total"
        in (message)
    )
    assert says in message


def test_an_info_metric_from_the_catalogue_takes_no_oid() -> None:
    labels = "{descr: {value: a}, location: {value: b}, contact: {value: c}}"
    message = _refusal(UP.format(labels=labels, metric="{name: chm_device_system_info, oid: 1.3}"))
    assert "chm_device_system_info: an info metric takes no oid" in message


@pytest.mark.parametrize(
    ("metric", "says"),
    [
        ("{name: chm_device_info}", "is built from `device_info:`"),
        ("{name: probe_success, help: h, oid: 1.3.6}", "is emitted by the probers"),
        ("{name: chm_exporter_probes_in_flight, oid: 1.3.6}", "is emitted by the exporter"),
        (
            "{name: probe_widget, help: h, oid: 1.3.6}",
            "probe_widget is not in the metric catalogue",
        ),
        ("{name: site_widget, oid: 1.3.6}", "site_widget is not in the catalogue"),
    ],
)
def test_metrics_a_profile_may_not_emit_are_refused(metric: str, says: str) -> None:
    assert says in _refusal(UP.format(labels="{}", metric=metric))


def test_a_metric_outside_the_catalogue_keeps_its_own_help_and_type() -> None:
    metric = "{name: ifInOctets, type: counter, help: Octets - 1.3.6, oid: 1.3.6}"
    profile = parse_profile(UP.format(labels="{}", metric=metric), "compat.yaml")
    spec = profile.tables[0].metrics[0]
    assert (spec.help, spec.type) == ("Octets - 1.3.6", "counter")


ALIASED = """
name: mine
oids:
  ifHCInOctets: 1.3.6.1.2.1.31.1.1.1.6
  ifName: .1.3.6.1.2.1.31.1.1.1.1
  sysName: 1.3.6.1.2.1.1.5
device_info:
  sys_name: {oid: sysName.0}
tables:
  - name: t
    rows: [ifHCInOctets]
    labels: {ifindex: {index: 0}, ifname: {oid: [ifName, 1.3.6.1.2.1.2.2.1.2]}, ifalias: {value: ''}}
    metrics:
      - {name: chm_interface_receive_bytes_total, oid: ifHCInOctets}
"""


def test_aliases_resolve_to_their_oids_with_an_instance_suffix() -> None:
    profile = parse_profile(ALIASED, "mine.yaml")
    table = profile.tables[0]
    assert table.rows == ["1.3.6.1.2.1.31.1.1.1.6"]
    assert table.labels["ifname"].oid == ["1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.2.2.1.2"]
    assert table.metrics[0].sources[0].oid == "1.3.6.1.2.1.31.1.1.1.6"
    assert profile.device_info["sys_name"].oid == ["1.3.6.1.2.1.1.5.0"]
    result = WalkResult()
    result.add_walked("1.3.6.1.2.1.31.1.1.1.6", [("1.3.6.1.2.1.31.1.1.1.6.7", 42)])
    result.add_scalar("1.3.6.1.2.1.1.5.0", b"sw1")
    sink = MetricSink()
    evaluate_profiles([profile], result, sink)
    fam = sink.get("chm_interface_receive_bytes_total")
    assert fam is not None
    assert fam.samples == {("7", "", ""): 42}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (("oid: ifHCInOctets}", "oid: ifHCInOctet}"), "'ifHCInOctet' is neither a numeric OID"),
        (("oid: sysName.0}", "oid: sysNam.0}"), "'sysNam' is neither a numeric OID nor an alias"),
        (
            ("ifName: .1.3.6", "ifName: one.3.6"),
            "oids.ifName: 'one.3.6.1.2.1.31.1.1.1.1' is not a numeric OID",
        ),
        (("  sysName:", "  sys.Name:"), "'sys.Name' is not a valid alias name"),
    ],
)
def test_unknown_or_malformed_aliases_are_refused(change: tuple[str, str], says: str) -> None:
    message = _refusal(ALIASED.replace(*change))
    assert message.startswith("site/mine.yaml: ")
    assert says in message


def test_every_shipped_profile_metric_is_in_the_catalogue_with_its_labels() -> None:
    cat = catalogue()
    emitted = set()
    for profile in load_profiles().values():
        for table in profile.tables:
            for metric in table.metrics:
                known = cat.get(metric.name)
                if known is None:
                    assert profile.name == "if_mib_snmp_exporter", metric.name
                    continue
                emitted.add(metric.name)
                assert (*table.labels, *metric.labels) == known.labels
    declared = {m.name for m in cat.metrics() if cat.emitter(m) == "profiles"}
    assert declared == emitted, "catalogue metrics no shipped profile emits"


def test_device_info_labels_are_the_catalogues() -> None:
    assert catalogue()["chm_device_info"].labels == DEVICE_INFO_LABELS
    assert DEVICE_INFO_LABELS[0] == "vendor"


_HELP = re.compile(r"^# HELP (\S+) (.*)$", re.M)
_TYPE = re.compile(r"^# TYPE (\S+) (\S+)$", re.M)


def test_goldens_carry_the_catalogues_help_and_type() -> None:
    """Every chm_* family in every golden exposition has the catalogue's one HELP and type."""
    cat = catalogue()
    checked = 0
    for path in sorted(GOLDEN.glob("*.prom")):
        text = path.read_text()
        types = dict(_TYPE.findall(text))
        for name, help_text in _HELP.findall(text):
            known = cat.get(name)
            if not name.startswith("chm_"):
                continue
            assert known is not None, f"{path.name}: {name} is not in the catalogue"
            assert help_text == known.help, f"{path.name}: {name}"
            assert types[name] == ("counter" if known.type == "counter" else "gauge")
            checked += 1
    assert checked > 500


def test_the_exporters_own_metrics_are_the_catalogues() -> None:
    cat = catalogue()
    registry = SelfMetrics("1.2.3").registry
    seen = set()
    for family in registry.collect():
        if family.name.startswith(("process_", "python_")):
            continue
        name = {"counter": f"{family.name}_total", "info": f"{family.name}_info"}.get(
            family.type, family.name
        )
        known = cat.get(name)
        assert known is not None, name
        assert cat.emitter(known) == "exporter"
        assert (family.type, family.documentation) == (known.type, known.help)
        for sample in family.samples:
            if sample.name in (name, f"{family.name}_bucket"):
                assert set(sample.labels) - {"le"} == set(known.labels), name
        seen.add(name)
    assert seen == {m.name for m in cat.metrics() if cat.emitter(m) == "exporter"}


CATALOGUE = """
groups:
  - title: T
    emitted_by: profiles
    metrics:
      - {metric}
"""


@pytest.mark.parametrize(
    ("metric", "says"),
    [
        ("{name: a_ratio, type: gauge, unit: ratio, range: [1, 0], help: h}", "min above max"),
        ("{name: a_ratio, type: gauge, unit: ratio, range: [null, null], help: h}", "says nothing"),
        ("{name: a_ratio, type: gauge, unit: ratio, range: [0], help: h}", "range"),
        ("{name: a_ratio, type: gauge, unit: ratio, range: [a, 1], help: h}", "range"),
        ("{name: a_bytes, type: counter, unit: bytes, help: h}", "ends with _total"),
        ("{name: a_total, type: gauge, help: h}", "ends with _total"),
        ("{name: a_up, type: info, help: h}", "ends with _info"),
        ("{name: a_seconds, type: gauge, help: h}", "declare `unit:`"),
        ("{name: a_level, type: gauge, unit: volts, help: h}", "unit volts is not in the name"),
        ("{name: a_level, type: gauge, unit: furlongs, help: h}", "unit"),
        ("{name: a_level, type: gauge}", "help"),
        ("{name: a_level, type: gauge, help: h, labels: [a, a]}", "repeated"),
        ("{name: a_level, type: gauge, help: h, labels: [9a]}", "not a valid label name"),
        ("{name: a_level, type: summary, help: h}", "type"),
    ],
)
def test_an_ill_formed_catalogue_entry_is_refused(metric: str, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)) as caught:
        parse_catalogue(CATALOGUE.format(metric=metric), "cat.yaml")
    assert str(caught.value).startswith("cat.yaml: groups.0.metrics.0")


def test_a_name_declared_twice_is_refused() -> None:
    text = CATALOGUE.format(metric="{name: a_level, type: gauge, help: h}") + (
        "      - {name: a_level, type: gauge, help: other}\n"
    )
    with pytest.raises(ConfigError, match="metric a_level is declared twice"):
        parse_catalogue(text, "cat.yaml")


def test_shipped_ranges_are_well_formed_where_declared() -> None:
    ranged: list[MetricDef] = [m for m in catalogue().metrics() if m.range is not None]
    assert catalogue()["chm_cpu_utilization_ratio"].range == (0, 1)
    assert catalogue()["chm_temperature_celsius"].range == (-60, 200)
    for metric in ranged:
        assert metric.range is not None
        low, high = metric.range
        assert low is not None or high is not None
        if metric.unit == "ratio" or metric.name.endswith("_up"):
            assert metric.range == (0, 1), metric.name
        if metric.type == "counter":
            assert metric.range == (0, None), metric.name
