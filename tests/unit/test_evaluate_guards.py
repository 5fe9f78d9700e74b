"""What the profiles engine guarantees about every series it emits: no two rows collapse into
one label set, no impossible value is exposed (dropped and counted by reason instead), a vendor
for every device, and the selection and memory rules issue 12 asks for."""

from __future__ import annotations

import math

import pytest

from chm_exporter.exposition import LabelValues, MetricSink, Number
from chm_exporter.profiles import WalkResult, evaluate_profiles, load_profiles
from chm_exporter.profiles.evaluate import Evaluation
from chm_exporter.profiles.loader import parse_profile
from chm_exporter.profiles.model import Profile
from chm_exporter.profiles.select import choose_profiles
from chm_exporter.profiles.values import RawValue, as_text

Columns = dict[str, dict[str, RawValue]]
NAME, VALUE = "1.3.6.1.9.1", "1.3.6.1.9.2"

SENSORS = f"""
name: sensors
tables:
  - name: temps
    labels: {{sensor: {{oid: {NAME}}}}}
    metrics:
      - {{name: chm_temperature_celsius, oid: {VALUE}, skip: [-32768]}}
"""
OPTICS = f"""
name: optics
tables:
  - name: optics
    labels: {{ifname: {{value: Te1/1}}, lane: {{index: 0}}}}
    metrics:
      - {{name: chm_optic_rx_power_dbm, oid: {VALUE}}}
  - name: again
    labels: {{ifname: {{value: Te1/1}}, lane: {{index: 0}}}}
    metrics:
      - {{name: chm_optic_rx_power_dbm, oid: {NAME}}}
"""


def _run(
    profiles: list[Profile], columns: Columns, name: str
) -> tuple[dict[LabelValues, Number], Evaluation]:
    result = WalkResult()
    result.columns.update(columns)
    sink = MetricSink()
    evaluation = Evaluation()
    evaluate_profiles(profiles, result, sink, None, evaluation)
    fam = sink.get(name)
    return ({} if fam is None else dict(fam.samples)), evaluation


def test_rows_of_the_same_name_stay_apart_and_the_same_walk_gives_the_same_labels() -> None:
    cols: Columns = {
        NAME: {"1": b"SFP Temp", "2": b"SFP Temp", "3": b"Board", "4": b"SFP Temp"},
        VALUE: {"1": 30, "2": 31, "3": 40, "4": 32},
    }
    profile = parse_profile(SENSORS, "t")
    first, _ = _run([profile], cols, "chm_temperature_celsius")
    assert first == {("SFP Temp",): 30, ("SFP Temp #2",): 31, ("Board",): 40, ("SFP Temp #4",): 32}
    again, _ = _run([profile], cols, "chm_temperature_celsius")
    assert list(again.items()) == list(first.items())


def test_a_clash_with_an_existing_suffix_is_told_apart_again() -> None:
    cols: Columns = {NAME: {"1": b"T", "2": b"T #3", "3": b"T"}, VALUE: {"1": 1, "2": 2, "3": 3}}
    got, _ = _run([parse_profile(SENSORS, "t")], cols, "chm_temperature_celsius")
    assert got == {("T",): 1, ("T #3",): 2, ("T #3.2",): 3}


def test_the_catalogue_names_the_label_that_tells_rows_apart() -> None:
    cols: Columns = {VALUE: {"1": -3.5}, NAME: {"1": -4.5}}
    got, _ = _run([parse_profile(OPTICS, "t")], cols, "chm_optic_rx_power_dbm")
    assert got == {("Te1/1", "1"): -3.5, ("Te1/1", "1 #1"): -4.5}


def test_impossible_values_are_dropped_and_counted_by_reason() -> None:
    cols: Columns = {
        NAME: {"1": b"ok", "2": b"sentinel", "3": b"IOS-XR", "4": b"C9200L", "5": b"nan"},
        VALUE: {"1": 35, "2": -32768, "3": -3276.8, "4": -866597556, "5": math.nan},
    }
    got, evaluation = _run([parse_profile(SENSORS, "t")], cols, "chm_temperature_celsius")
    assert got == {("ok",): 35}
    assert evaluation.dropped == {"no_reading": 1, "out_of_range": 2, "not_finite": 1}


def test_entity_sensor_drops_sentinels_whatever_the_scale() -> None:
    entity = load_profiles()["entity_sensor"]
    cols: Columns = {
        "1.3.6.1.2.1.99.1.1.1.1": {"1": 8, "2": 8, "3": 10},
        "1.3.6.1.2.1.99.1.1.1.2": {"1": 9, "2": 9, "3": 9},
        "1.3.6.1.2.1.99.1.1.1.3": {"1": 1, "2": 0, "3": 0},
        "1.3.6.1.2.1.99.1.1.1.4": {"1": -32768, "2": -866597556, "3": 65535},
        "1.3.6.1.2.1.47.1.1.1.1.7": {"1": b"A", "2": b"B", "3": b"Fan"},
    }
    temps, evaluation = _run([entity], cols, "chm_temperature_celsius")
    fans, _ = _run([entity], cols, "chm_fan_speed_rpm")
    assert temps == {}
    assert fans == {}
    assert sum(evaluation.dropped.values()) == 3


def test_plus_and_minus_columns_and_a_fallback_source() -> None:
    ucd = load_profiles()["ucd"]
    total, avail, buffers, cached = (f"1.3.6.1.4.1.2021.4.{n}.0" for n in (5, 6, 14, 15))
    full: Columns = {
        total: {"": 1000},
        avail: {"": 100},
        buffers: {"": 200},
        cached: {"": 300},
    }
    used, _ = _run([ucd], full, "chm_memory_used_bytes")
    free, _ = _run([ucd], full, "chm_memory_free_bytes")
    assert used == {("real",): 400 * 1024}
    assert free == {("real",): 600 * 1024}
    bare: Columns = {total: {"": 1000}, avail: {"": 100}}
    used, _ = _run([ucd], bare, "chm_memory_used_bytes")
    assert used == {("real",): 900 * 1024}


def test_wrapped_integer32_storage_sizes_read_as_unsigned() -> None:
    hr = load_profiles()["host_resources"]
    entry = "1.3.6.1.2.1.25.2.3.1"
    cols: Columns = {
        f"{entry}.2": {"31": "1.3.6.1.2.1.25.2.1.4"},
        f"{entry}.3": {"31": b"/ifs"},
        f"{entry}.4": {"31": 8192},
        # 3,000,000,000 and 2,500,000,000 units of 8 kB, sent wrapped as Integer32
        f"{entry}.5": {"31": 3_000_000_000 - 2**32},
        f"{entry}.6": {"31": 2_500_000_000 - 2**32},
    }
    size, evaluation = _run([hr], cols, "chm_filesystem_size_bytes")
    used, _ = _run([hr], cols, "chm_filesystem_used_bytes")
    assert size == {("/ifs",): 3_000_000_000 * 8192}
    assert used == {("/ifs",): 2_500_000_000 * 8192}
    assert not evaluation.dropped
    # without the profile's unsigned32 the negative sizes are impossible values, dropped
    plain = hr.model_copy(update={"unsigned32": []})
    cols[f"{entry}.5"] = {"31": 3_000_000_000 - 2**32}
    size, evaluation = _run([plain], cols, "chm_filesystem_size_bytes")
    assert size == {}
    assert evaluation.dropped


@pytest.mark.parametrize(
    ("oid", "vendor"),
    [
        ("1.3.6.1.4.1.2011.2.23.1", "huawei"),
        ("1.3.6.1.4.1.318.1.3.4", "apc"),
        ("1.3.6.1.4.1.9", "cisco"),
        ("1.3.6.1.2.1.1", None),
        ("1.3.6.1.4.1.999999999.1", None),
    ],
)
def test_enterprise_number_names_the_vendor(oid: str, vendor: str | None) -> None:
    assert as_text(oid.encode(), "enterprise") == vendor


def test_a_device_no_profile_knows_names_its_vendor() -> None:
    profiles = load_profiles()
    system = profiles["system"]
    cols: Columns = {"1.3.6.1.2.1.1.2.0": {"": "1.3.6.1.4.1.12356.101.1.1"}}
    result = WalkResult()
    result.columns.update(cols)
    sink = MetricSink()
    evaluate_profiles([system], result, sink)
    info = sink.get("chm_device_info")
    assert info is not None
    (labels,) = info.samples
    assert dict(zip(info.label_names, labels, strict=True))["vendor"] == "fortinet"


def test_a_vendor_profile_names_the_vendor_over_the_enterprise_slug() -> None:
    profiles = load_profiles()
    chosen = [profiles["system"], profiles["dell_os10"]]
    result = WalkResult()
    result.columns.update({"1.3.6.1.2.1.1.2.0": {"": "1.3.6.1.4.1.674.11000.5000.100.2.1"}})
    sink = MetricSink()
    evaluate_profiles(chosen, result, sink)
    info = sink.get("chm_device_info")
    assert info is not None
    (labels,) = info.samples
    assert dict(zip(info.label_names, labels, strict=True))["vendor"] == "dell"


@pytest.mark.parametrize(
    ("oid", "descr", "profile"),
    [
        ("1.3.6.1.4.1.9.1.1", "Cisco IOS XR Software (Cisco ASR9K Series)", "cisco_iosxr"),
        ("1.3.6.1.4.1.9.1.1", "Cisco IOS Software, C2960X", "cisco_ios"),
        ("1.3.6.1.4.1.1916.2.302", "VSP-7432CQ (8.0.5.0)", "extreme_voss"),
        ("1.3.6.1.4.1.1916.2.473", "7520-48Y-8C-FabricEngine (9.0.4.0)", "extreme_voss"),
        ("1.3.6.1.4.1.1916.2.248", "ExtremeXOS (X690-48x-2q-4c) version 22.6.1.4", "extreme_exos"),
        (
            "1.3.6.1.4.1.1916.2.332",
            "Extreme SLX9150-48Y Switch, SLX Operating System",
            "extreme_slx",
        ),
    ],
)
def test_shipped_selection(oid: str, descr: str, profile: str) -> None:
    assert choose_profiles(oid, descr, load_profiles()) == (profile,)


def test_on_a_prefix_tie_the_rule_with_a_sys_descr_condition_wins() -> None:
    plain = parse_profile("name: a\nmatch: {sys_object_id: [1.3.6.1.4.1.9.1]}\n", "a")
    specific = parse_profile(
        "name: z\nmatch: {sys_object_id: [1.3.6.1.4.1.9.1], sys_descr: 'XR'}\n", "z"
    )
    profiles = {"a": plain, "z": specific}
    assert choose_profiles("1.3.6.1.4.1.9.1.5", "IOS XR", profiles) == ("z",)
    assert choose_profiles("1.3.6.1.4.1.9.1.5", "IOS", profiles) == ("a",)


def test_the_routing_engine_cpu_replaces_hr_processor_load() -> None:
    profiles = load_profiles()
    junos = [profiles["host_resources"], profiles["juniper_junos"]]
    jnx = "1.3.6.1.4.1.2636.3.1.13.1"
    cols: Columns = {
        "1.3.6.1.2.1.25.3.3.1.2": {"1": 7},
        f"{jnx}.1": {"9.1.0.0": 9},
        f"{jnx}.3": {"9.1.0.0": 0},
        f"{jnx}.5": {"9.1.0.0": b"Routing Engine"},
        f"{jnx}.8": {"9.1.0.0": 12},
        f"{jnx}.15": {"9.1.0.0": 2048},
    }
    got, _ = _run(junos, cols, "chm_cpu_utilization_ratio")
    assert got == {("Routing Engine",): pytest.approx(0.12)}


def test_buffers_and_cache_rows_are_free_memory_not_pools() -> None:
    hr = load_profiles()["host_resources"]
    ram, virtual = "1.3.6.1.2.1.25.2.1.2", "1.3.6.1.2.1.25.2.1.3"
    cols: Columns = {
        "1.3.6.1.2.1.25.2.3.1.2": {"1": ram, "2": ram, "3": "1.3.6.1.2.1.25.2.1.1", "4": virtual},
        "1.3.6.1.2.1.25.2.3.1.3": {
            "1": b"Physical memory",
            "2": b"RAM (Buffers)",
            "3": b"Cached memory",
            "4": b"Virtual memory",
        },
        "1.3.6.1.2.1.25.2.3.1.4": {"1": 1024, "2": 1024, "3": 1024, "4": 1024},
        "1.3.6.1.2.1.25.2.3.1.5": {"1": 1000, "2": 1000, "3": 1000, "4": 9000},
        "1.3.6.1.2.1.25.2.3.1.6": {"1": 900, "2": 100, "3": 300, "4": 5000},
    }
    used, _ = _run([hr], cols, "chm_memory_used_bytes")
    free, _ = _run([hr], cols, "chm_memory_free_bytes")
    assert used == {("Physical memory",): 500 * 1024}
    assert free[("Physical memory",)] == 500 * 1024


def test_ram_already_without_buffers_and_cache_is_taken_as_is() -> None:
    hr = load_profiles()["host_resources"]
    ram = "1.3.6.1.2.1.25.2.1.2"
    cols: Columns = {
        "1.3.6.1.2.1.25.2.3.1.2": {"1": ram, "2": "1.3.6.1.2.1.25.2.1.1"},
        "1.3.6.1.2.1.25.2.3.1.3": {"1": b"Physical memory", "2": b"Cached memory"},
        "1.3.6.1.2.1.25.2.3.1.4": {"1": 1024, "2": 1024},
        "1.3.6.1.2.1.25.2.3.1.5": {"1": 1000, "2": 1000},
        "1.3.6.1.2.1.25.2.3.1.6": {"1": 200, "2": 600},
    }
    used, _ = _run([hr], cols, "chm_memory_used_bytes")
    free, _ = _run([hr], cols, "chm_memory_free_bytes")
    assert used == {("Physical memory",): 200 * 1024}
    assert free == {("Physical memory",): 800 * 1024}
