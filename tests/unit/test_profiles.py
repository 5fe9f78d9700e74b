"""Profiles turn walked columns into samples: unit tests of each rule on small made-up walks.

The real-device behaviour is tested against snmpsim in tests/integration; these pin the edge
cases a recording may not hold.
"""

from pathlib import Path

import pytest
import yaml

from chm_exporter.errors import ConfigError
from chm_exporter.exposition import LabelValues, MetricSink, Number
from chm_exporter.profiles import WalkResult, evaluate_profiles, load_profiles, plan_walks
from chm_exporter.profiles.evaluate import Evaluation
from chm_exporter.profiles.loader import expand_includes, parse_profile
from chm_exporter.profiles.model import Profile
from chm_exporter.profiles.values import RawValue

#: walked values by column OID, then by row index (WalkResult.columns)
Columns = dict[str, dict[str, RawValue]]


def _profile(text: str) -> Profile:
    return parse_profile(text, "test.yaml")


def _samples(profile: Profile, columns: Columns, name: str) -> dict[LabelValues, Number]:
    result = WalkResult()
    result.columns.update(columns)
    sink = MetricSink()
    evaluate_profiles([profile], result, sink)
    fam = sink.get(name)
    return {} if fam is None else dict(fam.samples)


IFMIB = load_profiles()["if_mib"]
HC_IN, IN32 = "1.3.6.1.2.1.31.1.1.1.6", "1.3.6.1.2.1.2.2.1.10"
IFNAME, IFDESCR = "1.3.6.1.2.1.31.1.1.1.1", "1.3.6.1.2.1.2.2.1.2"


def test_hc_counter_preferred_and_32_bit_only_where_hc_is_absent() -> None:
    got = _samples(
        IFMIB,
        {HC_IN: {"1": 2**60}, IN32: {"1": 5, "2": 7}, IFNAME: {"1": b"Gi1", "2": b"Gi2"}},
        "chm_interface_receive_bytes_total",
    )
    assert got == {("1", "Gi1", ""): 2**60, ("2", "Gi2", ""): 7}


def test_ifname_falls_back_to_ifdescr() -> None:
    got = _samples(
        IFMIB,
        {"1.3.6.1.2.1.2.2.1.8": {"3": 1}, IFDESCR: {"3": b"eth0"}},
        "chm_interface_up",
    )
    assert got == {("3", "eth0", ""): 1}


@pytest.mark.parametrize(("status", "up"), [(1, 1), (2, 0), (7, 0)])
def test_oper_status_maps_to_up(status: int, up: int) -> None:
    got = _samples(IFMIB, {"1.3.6.1.2.1.2.2.1.8": {"1": status}}, "chm_interface_up")
    assert got == {("1", "", ""): up}


def test_high_speed_scaled_to_bits_exactly() -> None:
    got = _samples(
        IFMIB,
        {
            "1.3.6.1.2.1.2.2.1.1": {"1": 1},
            "1.3.6.1.2.1.31.1.1.1.15": {"1": 100000},
            "1.3.6.1.2.1.2.2.1.5": {"1": 4294967295},
        },
        "chm_interface_speed_bits_per_second",
    )
    assert got == {("1", "", ""): 100_000_000_000}


SENSORS = """
name: sensors
tables:
  - name: sensors
    where: [{oid: 1.3.6.1.2.1.99.1.1.1.1, in: [8]}]
    labels:
      sensor: {oid: 1.3.6.1.2.1.47.1.1.1.1.7}
    metrics:
      - name: t_celsius
        help: h 1.3.6.1.2.1.99.1.1.1.4
        oid: 1.3.6.1.2.1.99.1.1.1.4
        skip: [-32768]
        factors:
          - {oid: 1.3.6.1.2.1.99.1.1.1.2, map: {8: 0.001, 9: 1}}
          - {oid: 1.3.6.1.2.1.99.1.1.1.3, pow10: -1}
"""


def test_sensor_scale_precision_filter_and_skip() -> None:
    cols: Columns = {
        "1.3.6.1.2.1.99.1.1.1.1": {"1": 8, "2": 8, "3": 14, "4": 8},
        "1.3.6.1.2.1.99.1.1.1.4": {"1": 345, "2": 41000, "3": -30, "4": -32768},
        "1.3.6.1.2.1.99.1.1.1.2": {"1": 9, "2": 8, "3": 9, "4": 9},
        "1.3.6.1.2.1.99.1.1.1.3": {"1": 1, "2": 0, "3": 1, "4": 0},
        "1.3.6.1.2.1.47.1.1.1.1.7": {"1": b"Inlet", "2": b"CPU", "3": b"Xcvr", "4": b"Bad"},
    }
    got = _samples(_profile(SENSORS), cols, "t_celsius")
    assert got == {("Inlet",): pytest.approx(34.5), ("CPU",): pytest.approx(41.0)}


LOOKUPS = """
name: lookups
tables:
  - name: cpu
    labels:
      cpu: {oid: 1.3.6.1.2.1.47.1.1.1.1.7, key: {oid: 1.3.6.1.4.1.9.9.109.1.1.1.1.2}, default: total}
    metrics:
      - {name: cpu_ratio, help: h 1.3.6.1.4.1.9.9.109.1.1.1.1.7, oid: 1.3.6.1.4.1.9.9.109.1.1.1.1.7, scale: 0.01}
  - name: lldp
    labels:
      local_ifname: {oid: 1.0.8802.1.1.2.1.3.7.1.3, key: {index: 1}}
      state: {oid: 1.3.6.1.2.1.1.9, map: {1: ok, 2: bad}}
    metrics:
      - {name: neighbor_info, type: info, help: h 1.0.8802.1.1.2.1.4.1.1.9}
    rows: [1.0.8802.1.1.2.1.4.1.1.9]
"""


def test_label_from_a_column_named_by_another_column() -> None:
    cols: Columns = {
        "1.3.6.1.4.1.9.9.109.1.1.1.1.7": {"19": 7, "20": 55},
        "1.3.6.1.4.1.9.9.109.1.1.1.1.2": {"19": 1000, "20": 0},
        "1.3.6.1.2.1.47.1.1.1.1.7": {"1000": b"Switch 1 CPU"},
    }
    got = _samples(_profile(LOOKUPS), cols, "cpu_ratio")
    assert got == {("Switch 1 CPU",): pytest.approx(0.07), ("total",): pytest.approx(0.55)}


def test_label_from_part_of_the_index_and_enum_map() -> None:
    cols: Columns = {
        "1.0.8802.1.1.2.1.4.1.1.9": {"0.5.1": b"peer-a", "0.7.2": b"peer-b"},
        "1.0.8802.1.1.2.1.3.7.1.3": {"5": b"Gi1/0/5"},
        "1.3.6.1.2.1.1.9": {"0.5.1": 1, "0.7.2": 9},
    }
    got = _samples(_profile(LOOKUPS), cols, "neighbor_info")
    # an enum value the map does not know shows as its number
    assert got == {("Gi1/0/5", "ok"): 1, ("", "9"): 1}


DEVICE = """
name: dev
device_info:
  vendor: {value: acme}
  model: {oid: 1.3.6.1.2.1.47.1.1.1.1.13, table: true, where: [{oid: 1.3.6.1.2.1.47.1.1.1.1.5, in: [3]}]}
  os_version: {oid: 1.3.6.1.2.1.1.1.0, regex: 'Version ([^ ,]+)'}
"""


def test_device_info_from_constant_first_chassis_and_regex() -> None:
    cols: Columns = {
        "1.3.6.1.2.1.47.1.1.1.1.13": {"1": b"", "1001": b"WS-C2960X", "2001": b"Other"},
        "1.3.6.1.2.1.47.1.1.1.1.5": {"1": 11, "1001": 3, "2001": 3},
        "1.3.6.1.2.1.1.1.0": {"": b"Cisco IOS Software, Version 15.0(2a)EX5, RELEASE"},
    }
    got = _samples(_profile(DEVICE), cols, "chm_device_info")
    assert got == {("acme", "", "WS-C2960X", "15.0(2a)EX5", "", "", ""): 1}


def test_plan_asks_each_oid_once() -> None:
    profiles = load_profiles()
    plan = plan_walks(expand_includes(["system", "if_mib", "if_mib_snmp_exporter"], profiles))
    assert len(plan.walks) == len(set(plan.walks))
    assert HC_IN in plan.walks
    assert IFNAME in plan.walks
    assert "1.3.6.1.2.1.1.2.0" in plan.gets


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: x\ntables: [{name: t, metrics: [{name: m, help: h, oid: 1.3.x}]}]",
            "not a numeric OID",
        ),
        (
            "name: x\ntables: [{name: t, metrics: [{name: 9m, help: h, oid: 1.3.6}]}]",
            "valid metric name",
        ),
        ("name: x\ntables: [{name: t, metrics: [{name: m, help: h}]}]", "exactly one of `oid`"),
        (
            "name: x\ntables: [{name: t, labels: {a: {}}, metrics: [{name: m, help: h, oid: 1.3}]}]",
            "needs one of `value`",
        ),
        ("name: x\ndevice_info: {colour: {value: red}}", "not one of vendor"),
        ("name: X\n", "name: String should match"),
        (
            "name: x\ntables: [{name: t, metrics: [{name: m, help: h, oid: 1.3, factors: [{oid: 1.3}]}]}]",
            "exactly one of `map`, `pow10` or `value: true`",
        ),
    ],
)
def test_invalid_profiles_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _profile(text)


def test_one_metric_with_two_shapes_is_refused(tmp_path: Path) -> None:
    """Metrics outside the catalogue (a site's own) still have one type and label set."""
    for name, labels in (("site_a", {"x": {"value": "1"}}), ("site_b", {})):
        doc = {
            "name": name,
            "tables": [
                {
                    "name": "t",
                    "labels": labels,
                    "metrics": [{"name": "site_up", "help": "h", "oid": "1.3.6"}],
                }
            ],
        }
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match=r"site_b\.yaml: metric site_up is gauge\[\] here but"):
        load_profiles([tmp_path])


STORAGE = """
name: storage
tables:
  - name: hr
    labels: {pool: {oid: 1.3.6.1.2.1.25.2.3.1.3}}
    metrics:
      - name: free_bytes
        help: h 1.3.6.1.2.1.25.2.3.1.5
        sources: [{oid: 1.3.6.1.2.1.25.2.3.1.5, minus: 1.3.6.1.2.1.25.2.3.1.6}]
        factors: [{oid: 1.3.6.1.2.1.25.2.3.1.4, value: true}]
"""


def test_free_is_size_minus_used_times_allocation_units() -> None:
    cols: Columns = {
        "1.3.6.1.2.1.25.2.3.1.3": {"1": b"Physical memory"},
        "1.3.6.1.2.1.25.2.3.1.4": {"1": 1024},
        "1.3.6.1.2.1.25.2.3.1.5": {"1": 1000},
        "1.3.6.1.2.1.25.2.3.1.6": {"1": 400},
    }
    assert _samples(_profile(STORAGE), cols, "free_bytes") == {("Physical memory",): 600 * 1024}


KEYED_WHERE = """
name: lanes
tables:
  - name: lanes
    where: [{oid: 1.3.6.1.9.1.21, key: {index: 0}, not_in: [0]}]
    labels: {port: {index: 0}, lane: {index: 1}}
    metrics:
      - {name: test_lane_rx_dbm, help: lane rx 1.3.6.1.9.2.6, oid: 1.3.6.1.9.2.6, scale: 0.01}
"""


def test_where_tests_another_row_found_by_part_of_the_index() -> None:
    # Per-lane rows (port.lane) kept only where the per-port table says a module is there.
    got = _samples(
        _profile(KEYED_WHERE),
        {
            "1.3.6.1.9.1.21": {"5": 70, "6": 0},
            "1.3.6.1.9.2.6": {"5.0": -250, "5.1": -300, "6.0": 0},
        },
        "test_lane_rx_dbm",
    )
    assert got == {("5", "0"): -2.5, ("5", "1"): -3.0}
    plan = plan_walks([_profile(KEYED_WHERE)])
    assert "1.3.6.1.9.1.21" in plan.walks


def test_where_key_by_column_value_is_planned() -> None:
    text = KEYED_WHERE.replace("key: {index: 0}, not_in: [0]", "key: {oid: 1.3.6.1.9.2.1}, in: [1]")
    got = _samples(
        _profile(text),
        {
            "1.3.6.1.9.1.21": {"7": 1},
            "1.3.6.1.9.2.1": {"5.0": 7, "5.1": 8},
            "1.3.6.1.9.2.6": {"5.0": 100, "5.1": 100},
        },
        "test_lane_rx_dbm",
    )
    assert got == {("5", "0"): 1.0}
    assert "1.3.6.1.9.2.1" in plan_walks([_profile(text)]).walks


FREE_SHARE = """
name: mem
tables:
  - name: mem
    metrics:
      - name: test_free_bytes
        help: total MB 1.3.6.1.9.15 times the share 1.3.6.1.9.11 leaves free
        oid: 1.3.6.1.9.15
        scale: 1048576
        factors: [{oid: 1.3.6.1.9.11, value: true, scale: -0.01, offset: 1}]
"""


def test_factor_value_with_scale_and_offset() -> None:
    got = _samples(
        _profile(FREE_SHARE),
        {"1.3.6.1.9.15": {"1": 2048}, "1.3.6.1.9.11": {"1": 25}},
        "test_free_bytes",
    )
    assert got == {(): pytest.approx(2048 * 1048576 * 0.75)}


def test_factor_scale_needs_value() -> None:
    with pytest.raises(ConfigError, match="go with `value: true`"):
        _profile(FREE_SHARE.replace("value: true", "pow10: -1"))


REGEX_WHERE = """
name: dom
tables:
  - name: rx
    where:
      - {oid: 1.3.6.1.9.3.1, in: [14]}
      - {oid: 1.3.6.1.9.3.7, regex: '(Receive|Rx) Power'}
    labels: {ifname: {oid: 1.3.6.1.9.3.7, regex: '^(\\S+) '}}
    metrics:
      - {name: test_rx_dbm, help: rx power 1.3.6.1.9.3.4, oid: 1.3.6.1.9.3.4, scale: 0.1}
"""


def test_where_regex_keeps_rows_whose_column_text_matches() -> None:
    got = _samples(
        _profile(REGEX_WHERE),
        {
            "1.3.6.1.9.3.1": {"1": 14, "2": 14, "3": 8, "4": 14},
            "1.3.6.1.9.3.7": {
                "1": b"Gi1/0/1 Receive Power Sensor",
                "2": b"Gi1/0/1 Transmit Power Sensor",
                "3": b"Gi1/0/1 Rx Power temperature",
            },
            "1.3.6.1.9.3.4": {"1": -47, "2": -50, "3": 30, "4": -10},
        },
        "test_rx_dbm",
    )
    # row 2 is a transmit sensor, row 3 not dBm, row 4 has no name: only row 1 is kept
    assert got == {("Gi1/0/1",): pytest.approx(-4.7)}
    assert "1.3.6.1.9.3.7" in plan_walks([_profile(REGEX_WHERE)]).walks


@pytest.mark.parametrize(
    "cond",
    ["{oid: 1.3.6.1.9.3.7, regex: 'a', in: [1]}", "{oid: 1.3.6.1.9.3.7, regex: '('}"],
)
def test_where_regex_is_one_test_and_compiles(cond: str) -> None:
    text = REGEX_WHERE.replace("{oid: 1.3.6.1.9.3.7, regex: '(Receive|Rx) Power'}", cond)
    with pytest.raises(ConfigError):
        _profile(text)


def test_decimal_factors_divide_so_values_are_the_nearest_float() -> None:
    sensors = load_profiles()["entity_sensor"]
    got = _samples(
        sensors,
        {
            "1.3.6.1.2.1.99.1.1.1.1": {"1": 8, "2": 8},
            "1.3.6.1.2.1.99.1.1.1.2": {"1": 9, "2": 8},
            "1.3.6.1.2.1.99.1.1.1.3": {"1": 1, "2": 0},
            "1.3.6.1.2.1.99.1.1.1.4": {"1": 533, "2": 35800},
            "1.3.6.1.2.1.47.1.1.1.1.7": {"1": b"cpu", "2": b"board"},
        },
        "chm_temperature_celsius",
    )
    assert got == {("cpu",): 53.3, ("board",): 35.8}


@pytest.mark.parametrize(
    ("cap", "rows", "size"),
    [
        (25, None, 25),
        (25, 101, 21),
        (25, 1, 2),
        (25, 24, 25),
        (25, 0, 1),
        (1, 500, 1),
        (50, 854, 48),
    ],
)
def test_bulk_size_reads_few_rows_past_the_column(cap: int, rows: int | None, size: int) -> None:
    from chm_exporter.snmp.walker import bulk_size

    assert bulk_size(cap, rows) == size


@pytest.mark.parametrize(
    ("cap", "rows", "bytes_per_row", "size"),
    [
        (60, 54, 29, 55),  # 55 counters fit one reply: one request
        (150, 200, 29, 101),  # 120 fit: 201 varbinds in two requests
        (60, 54, 227, 14),  # 15 long strings fit: 4 requests of 14
        (60, None, 227, 15),
        (60, 54, 5000, 1),  # not even one fits: one at a time (an undecodable reply says so)
    ],
)
def test_bulk_size_fits_a_reply_in_gufo_snmps_buffer(
    cap: int, rows: int | None, bytes_per_row: int, size: int
) -> None:
    from chm_exporter.snmp.walker import bulk_size

    assert bulk_size(cap, rows, bytes_per_row) == size


FALLBACK = r"""
name: fb
device_info:
  model: {oid: 1.3.6.1.2.1.1.1.0, regex: 'Nexus\d* (\S+?),', fallback: true}
"""


@pytest.mark.parametrize(
    ("chassis", "model"), [(b"N5K-C5548UP", "N5K-C5548UP"), (b"", "C9336C-FX2")]
)
def test_device_info_fallback_only_fills_an_empty_field(chassis: bytes, model: str) -> None:
    cols: Columns = {
        "1.3.6.1.2.1.47.1.1.1.1.13": {"1": chassis},
        "1.3.6.1.2.1.47.1.1.1.1.5": {"1": 3},
        "1.3.6.1.2.1.1.1.0": {"": b"Cisco NX-OS(tm) Nexus9000 C9336C-FX2, Software"},
    }
    result = WalkResult()
    result.columns.update(cols)
    sink = MetricSink()
    evaluate_profiles([_profile(DEVICE), _profile(FALLBACK)], result, sink)
    fam = sink.get("chm_device_info")
    assert fam is not None
    assert [dict(zip(fam.label_names, k, strict=True))["model"] for k in fam.samples] == [model]


DBM = """
name: dbm
tables:
  - name: t
    labels: {port: {index: 0}}
    metrics:
      - {name: rx_dbm, help: h 1.3.6.1.2.1.99.1.1.1.4, oid: 1.3.6.1.2.1.99.1.1.1.4,
         scale: 0.001, log10: {scale: 10, offset: 30}}
"""


def test_log10_turns_watts_into_dbm_and_zero_into_no_sample() -> None:
    got = _samples(_profile(DBM), {"1.3.6.1.2.1.99.1.1.1.4": {"1": 1, "2": 0}}, "rx_dbm")
    assert got == {("1",): pytest.approx(0.0)}  # 1 mW = 0 dBm; 0 W has no dBm


def test_zero_watts_is_counted_as_not_finite_and_negative_watts_give_nothing() -> None:
    result = WalkResult()
    result.columns.update({"1.3.6.1.2.1.99.1.1.1.4": {"1": 0, "2": -5, "3": 2}})
    sink = MetricSink()
    evaluation = Evaluation()
    evaluate_profiles([_profile(DBM)], result, sink, evaluation=evaluation)
    fam = sink.get("rx_dbm")
    assert fam is not None
    assert dict(fam.samples) == {("3",): pytest.approx(3.0103, abs=1e-4)}
    assert evaluation.dropped == {"not_finite": 1}  # 10 log10(0 W) = -inf: no light


TEMPLATED = """
name: trays
tables:
  - name: t
    labels:
      fan: {index: 0, template: 'Fan tray {}'}
      kind: {oid: 1.3.6.1.2.1.99.1.1.1.1, map: {1: front}, template: '{} side', default: none}
    metrics:
      - {name: fan_up, help: h 1.3.6.1.2.1.99.1.1.1.4, oid: 1.3.6.1.2.1.99.1.1.1.4}
"""


def test_label_template_names_a_bare_index_and_leaves_the_default_alone() -> None:
    got = _samples(
        _profile(TEMPLATED),
        {"1.3.6.1.2.1.99.1.1.1.4": {"1": 1, "2": 0}, "1.3.6.1.2.1.99.1.1.1.1": {"1": 1}},
        "fan_up",
    )
    assert got == {("Fan tray 1", "front side"): 1, ("Fan tray 2", "none"): 0}


def test_label_template_needs_exactly_one_placeholder() -> None:
    with pytest.raises(ConfigError):
        _profile(TEMPLATED.replace("'Fan tray {}'", "'Fan tray'"))
    with pytest.raises(ConfigError):
        _profile(TEMPLATED.replace("'Fan tray {}'", "'{} tray {}'"))


SUBTYPED_IDS = """
name: ids
tables:
  - name: neighbors
    rows: [1.0.8802.1.1.2.1.4.1.1.5]
    labels:
      chassis:
        oid: [1.0.8802.1.1.2.1.4.1.1.5, 1.0.8802.1.1.2.1.4.1.1.9]
        format_by: {oid: 1.0.8802.1.1.2.1.4.1.1.4, formats: {4: mac, 5: iana_address}}
    metrics:
      - {name: neighbor_info, type: info, help: h 1.0.8802.1.1.2.1.4.1.1.5}
"""


def test_label_format_chosen_by_a_subtype_column() -> None:
    chassis: dict[str, RawValue] = {
        "0.1.1": b"\x00\x1b\x21\xbb\xe6\xf0",  # macAddress(4)
        "0.2.1": b"\x01\x0a\x38\x20\x71",  # networkAddress(5): IPv4
        "0.3.1": b"\x02" + bytes(15) + b"\x01",  # networkAddress(5): IPv6
        "0.4.1": b"NWPU-CA-5548-01",  # local(7)
        "0.5.1": b"\x01\x0a\x38",  # networkAddress(5) too short: hex
        "0.6.1": b"00:00:00:00:00:00",  # macAddress(4) sent as 17 characters of text
        "0.7.1": b"\x00\x04\xf2\xc6\x70\x78",  # no subtype: the label's own format (text)
    }
    subtypes: dict[str, RawValue] = {
        "0.1.1": 4,
        "0.2.1": 5,
        "0.3.1": 5,
        "0.4.1": 7,
        "0.5.1": 5,
        "0.6.1": 4,
    }
    cols: Columns = {"1.0.8802.1.1.2.1.4.1.1.5": chassis, "1.0.8802.1.1.2.1.4.1.1.4": subtypes}
    got = _samples(_profile(SUBTYPED_IDS), cols, "neighbor_info")
    assert set(got) == {
        ("00:1b:21:bb:e6:f0",),
        ("10.56.32.113",),
        ("::1",),
        ("NWPU-CA-5548-01",),
        ("01:0a:38",),
        ("00:00:00:00:00:00",),
        ("00:04:f2:c6:70:78",),  # not text (a NUL first): shown as hex
    }


def test_subtype_column_is_walked() -> None:
    plan = plan_walks([_profile(SUBTYPED_IDS)])
    assert "1.0.8802.1.1.2.1.4.1.1.4" in plan.walks


def test_rows_columns_are_never_lookups() -> None:
    plan = plan_walks([_profile(SUBTYPED_IDS)])
    assert "1.0.8802.1.1.2.1.4.1.1.5" not in plan.lookups  # the rows column
    assert "1.0.8802.1.1.2.1.4.1.1.9" in plan.lookups  # a label-only column


MANAGEMENT_ADDRESS = """
name: addr
tables:
  - name: neighbors
    rows: [1.0.8802.1.1.2.1.4.1.1.9]
    labels:
      address: {index_suffix_of: 1.0.8802.1.1.2.1.4.2.1.3, format: iana_address}
    metrics:
      - {name: neighbor_info, type: info, help: h 1.0.8802.1.1.2.1.4.1.1.9}
"""


def test_label_from_the_index_of_another_table() -> None:
    names: dict[str, RawValue] = {
        "0.17.1": b"a",
        "0.17.10": b"b",
        "0.27.1": b"c",
        "0.30.1": b"d",
        "0.31.1": b"e",
    }
    addresses: dict[str, RawValue] = {
        "0.17.1.1.4.10.40.1.19": 2,  # IPv4
        "0.17.1.1.4.10.40.1.20": 2,  # a second address of the same neighbour: the first wins
        "0.17.10.6.6.144.32.194.6.132.128": 2,  # all802: a MAC (and 0.17.10 is not 0.17.1)
        "0.27.1.1.10.15.193.50": 2,  # length 10 with 3 octets: malformed, no value
        "0.30.1.2.16.42.2.212.128.4.128.238.0.0.0.0.0.0.0.0.6": 2,  # IPv6
    }
    cols: Columns = {"1.0.8802.1.1.2.1.4.1.1.9": names, "1.0.8802.1.1.2.1.4.2.1.3": addresses}
    got = _samples(_profile(MANAGEMENT_ADDRESS), cols, "neighbor_info")
    assert set(got) == {
        ("10.40.1.19",),
        ("90:20:c2:06:84:80",),
        ("",),  # 0.27.1 (malformed): no address
        ("#0.31.1",),  # 0.31.1 (no address row) would clash with it: told apart by its index
        ("2a02:d480:480:ee00::6",),
    }
    plan = plan_walks([_profile(MANAGEMENT_ADDRESS)])
    assert "1.0.8802.1.1.2.1.4.2.1.3" in plan.walks
    assert "1.0.8802.1.1.2.1.4.2.1.3" not in plan.lookups


HR_MEMORY = "1.3.6.1.2.1.25.2.3.1.6"
UCD_TOTAL = "1.3.6.1.4.1.2021.4.5.0"
REPLACED = """
name: hr
tables:
  - name: memory
    labels: {pool: {value: Physical memory}}
    metrics:
      - {name: mem_used, help: h 1.3.6.1.2.1.25.2.3.1.6, oid: 1.3.6.1.2.1.25.2.3.1.6}
"""
REPLACING = """
name: ucd
tables:
  - name: memory
    scalar: true
    replaces: [hr.memory]
    labels: {pool: {value: real}}
    metrics:
      - {name: mem_used, help: h 1.3.6.1.4.1.2021.4.5.0, oid: 1.3.6.1.4.1.2021.4.5.0}
"""


@pytest.mark.parametrize(
    ("ucd_value", "pools"),
    [(1000, {("real",)}), (None, {("Physical memory",)})],
    ids=["ucd-answered", "ucd-absent"],
)
def test_a_table_replaces_another_only_when_it_answered(
    ucd_value: int | None, pools: set[tuple[str, ...]]
) -> None:
    result = WalkResult()
    result.columns[HR_MEMORY] = {"1": 900}
    if ucd_value is not None:
        result.add_scalar(UCD_TOTAL, ucd_value)
    sink = MetricSink()
    evaluate_profiles([_profile(REPLACED), _profile(REPLACING)], result, sink)
    fam = sink.get("mem_used")
    assert fam is not None
    assert set(fam.samples) == pools


def test_replacing_an_unknown_table_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ucd2.yaml").write_text(REPLACING.replace("name: ucd", "name: ucd2"))
    with pytest.raises(ConfigError, match=r"replaces: 'hr\.memory' is not a profile's table"):
        load_profiles([tmp_path])


SHARE_UNLESS_SIZE = """
name: mem
tables:
  - name: mem
    labels: {pool: {index: 0}}
    where: [{oid: 1.3.6.1.9.8, not_in: [0]}]
    metrics:
      - name: chm_memory_used_bytes
        oid: 1.3.6.1.9.10
        skip: [0]
        factors: [{oid: 1.3.6.1.9.8, value: true, scale: 0.01}]
      - name: chm_memory_utilization_ratio
        oid: 1.3.6.1.9.8
        scale: 0.01
        unless: [chm_memory_used_bytes]
"""


def test_unless_gives_the_share_only_where_the_size_is_unknown() -> None:
    """Row 1 has a size, row 2 a size of 0 (unknown), row 3 none: only rows 2 and 3 get the
    ratio; row 1 gets bytes instead."""
    profile = _profile(SHARE_UNLESS_SIZE)
    columns: Columns = {
        "1.3.6.1.9.8": {"1": 25, "2": 13, "3": 40},
        "1.3.6.1.9.10": {"1": 1000, "2": 0},
    }
    assert _samples(profile, columns, "chm_memory_used_bytes") == {("1",): 250}
    assert _samples(profile, columns, "chm_memory_utilization_ratio") == {
        ("2",): pytest.approx(0.13),
        ("3",): pytest.approx(0.40),
    }


@pytest.mark.parametrize(
    "unless",
    ["[chm_memory_free_bytes]", "[chm_memory_utilization_ratio]"],
    ids=["not-in-table", "itself"],
)
def test_unless_names_only_metrics_listed_before(unless: str) -> None:
    with pytest.raises(ConfigError, match="not metrics listed before"):
        _profile(SHARE_UNLESS_SIZE.replace("[chm_memory_used_bytes]", unless))


WINDOWS_IN_TEXT = """
name: cpu
tables:
  - name: cpu
    scalar: true
    labels: {cpu: {value: system}}
    metrics:
      - name: chm_cpu_utilization_ratio
        oid: 1.3.6.1.9.9.0
        regex: '60 Secs \\(\\s*([0-9.]+)\\s*%\\)'
        scale: 0.01
"""


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        (b"5 Secs ( 96.4918%)   60 Secs ( 54.2271%)  300 Secs ( 38.2591%)", 0.542271),
        (b"5 Secs ( 35.27%) 60 Secs ( 33.01%) 300 Secs ( 32.74%)", 0.3301),
        (b"5 Secs ( 35.27%)", None),
    ],
)
def test_metric_regex_takes_a_figure_out_of_a_text(text: bytes, ratio: float | None) -> None:
    got = _samples(
        _profile(WINDOWS_IN_TEXT), {"1.3.6.1.9.9.0": {"": text}}, "chm_cpu_utilization_ratio"
    )
    assert got == ({} if ratio is None else {("system",): pytest.approx(ratio)})


def test_where_tests_part_of_the_row_index() -> None:
    """A table indexed entity.interval: only the 1-minute rows (interval 2)."""
    profile = _profile(
        """
name: qfp
tables:
  - name: qfp
    where: [{index: 1, in: [2]}]
    labels: {cpu: {index: 0}}
    metrics:
      - {name: chm_cpu_utilization_ratio, oid: 1.3.6.1.9.14, scale: 0.01}
"""
    )
    load: dict[str, RawValue] = {"9001.1": 10, "9001.2": 20, "9001.3": 30, "9002.2": 40}
    got = _samples(profile, {"1.3.6.1.9.14": load}, "chm_cpu_utilization_ratio")
    assert got == {("9001",): pytest.approx(0.2), ("9002",): pytest.approx(0.4)}


@pytest.mark.parametrize(
    ("cond", "message"),
    [
        ("{in: [2]}", "exactly one of `oid` or `index`"),
        ("{oid: 1.3.6.1.9.1, index: 1, in: [2]}", "exactly one of `oid` or `index`"),
        ("{index: 1, key: {index: 0}, in: [2]}", "`key` goes with `oid`"),
    ],
    ids=["neither", "both", "key-with-index"],
)
def test_where_needs_one_subject(cond: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _profile(
            f"name: x\ntables: [{{name: t, where: [{cond}], metrics: [{{name: m, help: h, oid: 1.3.6}}]}}]"
        )
