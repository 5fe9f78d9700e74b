"""Hostile values from an agent: strings such as "nan", "inf" or "1e309", numbers that overflow
when scaled, and negative counters never become samples; they are left out and counted."""

import pytest

from chm_exporter.exposition import MetricSink
from chm_exporter.profiles import WalkResult, evaluate_profiles
from chm_exporter.profiles.evaluate import Evaluation
from chm_exporter.profiles.loader import parse_profile

PROFILE = parse_profile(
    """\
name: hostile
tables:
  - name: t
    metrics:
      - {name: g, help: h 1.3.6.1.9.1, oid: 1.3.6.1.9.1}
      - {name: c_total, help: h 1.3.6.1.9.2, oid: 1.3.6.1.9.2, type: counter}
      - name: scaled
        help: h 1.3.6.1.9.3
        oid: 1.3.6.1.9.3
        factors: [{oid: 1.3.6.1.9.4, pow10: 1}]
""",
    "hostile.yaml",
)


def _evaluate(columns: dict[str, dict[str, object]]) -> tuple[MetricSink, dict[str, int]]:
    result = WalkResult()
    result.columns.update(columns)  # type: ignore[arg-type]
    sink = MetricSink()
    evaluation = Evaluation()
    assert evaluate_profiles([PROFILE], result, sink, evaluation=evaluation)
    return sink, dict(evaluation.dropped)


@pytest.mark.parametrize(
    "raw", [b"nan", b"NaN", "inf", b"-Infinity", b"1e309", "-1e400", float("nan"), 2**1100]
)
def test_non_finite_values_are_left_out_and_counted(raw: object) -> None:
    sink, dropped = _evaluate({"1.3.6.1.9.1": {"1": raw, "2": b"42"}})
    family = sink.get("g")
    assert family is not None
    assert dict(family.samples) == {(): 42}
    assert dropped == {"not_finite": 1}
    assert "NaN" not in sink.render()
    assert "Inf" not in sink.render()


def test_negative_counter_is_left_out_but_a_negative_gauge_stays() -> None:
    sink, dropped = _evaluate(
        {"1.3.6.1.9.1": {"1": -5}, "1.3.6.1.9.2": {"1": -5, "2": 7, "3": b"-1"}}
    )
    assert "g -5" in sink.render()
    counter = sink.get("c_total")
    assert counter is not None
    assert list(counter.samples.values()) == [7]
    assert dropped == {"negative_counter": 2}


def test_scaling_that_overflows_is_left_out_not_a_crash() -> None:
    sink, dropped = _evaluate({"1.3.6.1.9.3": {"1": 5, "2": 5}, "1.3.6.1.9.4": {"1": 400, "2": 2}})
    family = sink.get("scaled")
    assert family is not None
    assert list(family.samples.values()) == [500]
    assert dropped == {"not_finite": 1}
