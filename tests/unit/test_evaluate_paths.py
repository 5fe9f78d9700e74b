"""The evaluator's direct paths (plain metrics and labels, decided once per table) give exactly
what the general path gives, cell for cell: the same samples in the same order, the same
labels, the same drops by reason and the same answer."""

from __future__ import annotations

import dataclasses
import gc
import math

import pytest

from chm_exporter.catalogue import DROP_REASONS
from chm_exporter.exposition import LabelValues, MetricSink, Number
from chm_exporter.profiles import WalkResult, evaluate_profiles, tableplan
from chm_exporter.profiles import evaluate as evaluate_module
from chm_exporter.profiles.evaluate import Evaluation
from chm_exporter.profiles.loader import parse_profile
from chm_exporter.profiles.model import Profile, Table
from chm_exporter.profiles.tableplan import TablePlan, table_plan
from chm_exporter.profiles.values import RawValue, _clean, as_text

A, B, L1, L2, S = (f"1.3.6.1.9.{n}" for n in (1, 2, 3, 4, 5))

# Every kind of cell an agent may send: missing, ints (bool, negative, past a float's range),
# floats (NaN, infinities), numeric and other octet strings, str.
VALUES: list[RawValue] = [
    None,
    0,
    7,
    -5,
    42,
    2**64 + 1,
    10**400,
    True,
    1.5,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    b"42",
    b" 17 %\x00",
    b"4.2",
    b"1e309",
    b"abc",
    b"",
    "12",
    "abc",
    b"\xff\xfe",
]
TEXTS: list[RawValue] = [
    b"Gi1/0/1",
    b"",
    None,
    5,
    b"a\r\nb\x01",
    b"\xff\x00",
    "str",
    b'q"uo\\te\n',
    b"Gi1/0/1",
    b"\x00\x1b\x21\x3c\x4d\x5e",
    b"  ",
]

PROFILE = f"""
name: paths
tables:
  - name: values
    labels:
      name: {{oid: {L1}}}
      alias: {{oid: [{L2}, {L1}], default: none}}
      mac: {{oid: {L2}, format: mac}}
      hexed: {{oid: {L1}, format: hex}}
      state: {{oid: [{L2}, {L1}], map: {{5: up, str: "", Gi1/0/1: gi}}, default: unknown}}
      row: {{index: 0}}
      rows: {{index: [0, 2]}}
      beyond: {{index: [2, 3], default: none}}
      site: {{value: lab}}
      empty: {{value: ""}}
    metrics:
      - {{name: site_plain, help: h, oid: {A}}}
      - {{name: site_fallback, help: h, oid: [{A}, {B}]}}
      - {{name: site_tenth, help: h, sources: [{{oid: {A}, scale: 0.1}}]}}
      - {{name: site_times_ten, help: h, sources: [{{oid: {A}, scale: 10, offset: 3}}]}}
      - {{name: site_scaled_fallback, help: h, sources: [{{oid: {B}, scale: 8}}, {{oid: {A}}}]}}
      - {{name: site_mapped, help: h, oid: {A}, map: {{7: 1, abc: 2, 42: 3}}, default: 0}}
      - {{name: site_mapped_strict, help: h, oid: {A}, map: {{7: 1, abc: 2}}}}
      - {{name: site_skip, help: h, oid: {A}, skip: [-5, 7, abc, 1.5]}}
      - {{name: site_total, help: h, type: counter, oid: {A}}}
      - {{name: site_row_info, help: h, type: info}}
      - name: site_own_labels
        help: h
        oid: {B}
        labels: {{lane: {{oid: {L1}, default: "0"}}, kind: {{value: x}}}}
  - name: sensors
    rows: [{A}, {B}]
    labels: {{sensor: {{oid: [{L1}, {L2}]}}}}
    metrics:
      - {{name: chm_temperature_celsius, oid: [{A}, {B}], skip: [-32768]}}
  - name: filtered
    where: [{{oid: {B}, in: [7, 42, abc, 1]}}, {{oid: {A}, not_in: [0]}}]
    labels: {{name: {{oid: {L1}}}}}
    metrics:
      - {{name: site_filtered, help: h, oid: [{A}, {B}]}}
  - name: filtered_again
    where: [{{oid: {B}, in: [-5, 12]}}]
    labels: {{name: {{oid: {L1}}}}}
    metrics:
      - {{name: site_filtered_again, help: h, oid: {B}}}
  - name: mixed
    where: [{{index: 1, in: [0, 1]}}]
    labels:
      tray: {{oid: {L1}, template: "Tray {{}}", default: none}}
      name: {{oid: {L2}}}
      port: {{oid: [{L2}, {L1}], rewrite: [{{regex: '^Gi(.*)', to: 'Gig\\1'}}]}}
    metrics:
      - {{name: site_first, help: h, oid: {A}}}
      - {{name: site_second, help: h, oid: {B}, unless: [site_first]}}
      - {{name: site_from_text, help: h, oid: {L1}, regex: "([0-9]+)"}}
  - name: scalars
    scalar: true
    metrics:
      - {{name: site_scalar, help: h, oid: {S}}}
"""


def _general(plan: TablePlan) -> TablePlan:
    """The same table with every direct path turned off: all through the general path (rows
    filtered by `_row_matches` alone, see the test)."""
    return dataclasses.replace(
        plan,
        labels=tuple(dataclasses.replace(p, columns=None, index=None) for p in plan.labels),
        metrics=tuple(
            dataclasses.replace(
                m,
                sources=None,
                plain_first=None,
                labels=tuple(dataclasses.replace(p, columns=None, index=None) for p in m.labels),
            )
            for m in plan.metrics
        ),
        needs_parts=True,
    )


def _columns(shift: int) -> dict[str, dict[str, RawValue]]:
    """Rows 1.0 .. n.k: column A every value, B the values shifted, the label columns the
    texts."""
    n = len(VALUES)
    columns: dict[str, dict[str, RawValue]] = {A: {}, B: {}, L1: {}, L2: {}}
    for row in range(n):
        index = f"{row + 1}.{row % 3}"
        for oid, raw in (
            (A, VALUES[row]),
            (B, VALUES[(row + shift) % n]),
            (L1, TEXTS[row % len(TEXTS)]),
            (L2, TEXTS[(row + shift) % len(TEXTS)]),
        ):
            if raw is not None:
                columns[oid][index] = raw
    columns[S] = {"": VALUES[shift % n]}
    return columns


def _evaluate(
    profile: Profile, columns: dict[str, dict[str, RawValue]]
) -> tuple[str, list[tuple[str, list[tuple[LabelValues, Number]]]], Evaluation, bool]:
    sink = MetricSink()
    evaluation = Evaluation()
    complete = evaluate_profiles([profile], WalkResult(columns=columns), sink, None, evaluation)
    samples = [(fam.name, list(fam.samples.items())) for fam in sink]
    return sink.render(), samples, evaluation, complete


def test_the_tables_take_the_direct_paths() -> None:
    profile = parse_profile(PROFILE, "t")
    for table in profile.tables:
        if table.name == "mixed":  # what takes the general path, beside the direct ones
            continue
        plan = table_plan(profile.name, table)
        assert all(m.sources is not None for m in plan.metrics if not m.info), table.name
        labels = [*plan.labels, *(p for m in plan.metrics for p in m.labels)]
        assert not any(p.general for p in labels), table.name
    shortcut = {m.spec.name: m.plain_first for m in table_plan("t", profile.tables[0]).metrics}
    assert shortcut["site_plain"] == shortcut["site_fallback"] == shortcut["site_total"] == A
    for name in ("site_tenth", "site_scaled_fallback", "site_mapped", "site_skip"):
        assert shortcut[name] is None, name


@pytest.mark.parametrize("shift", [0, 1, 3, 7, 11])
def test_direct_paths_give_what_the_general_path_gives(
    shift: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = parse_profile(PROFILE, "t")
    columns = _columns(shift)
    direct = _evaluate(profile, columns)

    def general_plan(name: str, table: Table) -> TablePlan:
        return _general(table_plan(name, table))

    monkeypatch.setattr(evaluate_module, "table_plan", general_plan)
    monkeypatch.setattr(evaluate_module, "_rows_in", lambda *args: None)
    general = _evaluate(profile, columns)
    assert direct[0] == general[0]  # the exposition, byte for byte
    assert direct[1] == general[1]  # every sample, in order, with its value's type
    assert [type(v) for _, s in direct[1] for _, v in s] == [
        type(v) for _, s in general[1] for _, v in s
    ]
    assert direct[2] == general[2]  # drops by reason, owners, collapsed
    assert direct[3] == general[3]
    # the cells above reach every drop reason and every kind of value
    assert set(direct[2].dropped) == set(DROP_REASONS)
    assert 'site_plain{name="Gi1/0/1",alias="' in direct[0]
    assert "site_filtered{" in direct[0]
    assert "site_filtered_again{" in direct[0]
    assert ('site_second{tray="' in direct[0]) == (shift != 0)  # A and B differ
    assert 'site_first{tray="Tray ' in direct[0]
    assert 'port="Gig1/0/1"' in direct[0]


def test_a_table_plan_is_made_once_and_goes_with_its_table() -> None:
    profile = parse_profile(PROFILE, "t")
    table = profile.tables[0]
    plan = table_plan("t", table)
    assert table_plan("t", table) is plan
    other = parse_profile(PROFILE, "t")
    assert table_plan("t", other.tables[0]) is not plan
    assert table_plan("u", table).table_id == "u.values"
    key = id(other.tables[0])
    assert key in tableplan._PLANS
    del other
    gc.collect()
    assert key not in tableplan._PLANS  # a reload's old tables take their plans with them


@pytest.mark.parametrize(
    "raw",
    [
        b"Gi1/0/1",
        b"  padded\t ",
        b"two\nlines",
        b"cr\r\nlf",
        b"lone\rcr",
        b"\r\n",
        b"x\x00\x00",
        b"",
    ],
)
def test_printable_text_skips_the_cleaning_only_when_it_changes_nothing(raw: bytes) -> None:
    assert as_text(raw) == _clean(raw.rstrip(b"\x00").decode("ascii"))
