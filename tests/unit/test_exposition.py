"""The metric sink: exact integers, escaping, no duplicate series, consistent families."""

import pytest

from chm_exporter.exposition import MetricSink, format_value


def test_counter64_above_2_pow_53_stays_exact() -> None:
    assert format_value(2**64 - 17) == "18446744073709551599"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5, "0.5"), (3.0, "3"), (float("nan"), "NaN"), (float("inf"), "+Inf"), (-1e-9, "-1e-09")],
)
def test_float_formatting(value: float, text: str) -> None:
    assert format_value(value) == text


def test_label_values_are_escaped() -> None:
    sink = MetricSink()
    sink.add("m", 1, {"descr": 'a "b"\\c\nd'}, "help")
    assert 'm{descr="a \\"b\\"\\\\c\\nd"} 1' in sink.render()


def test_same_labels_overwrite_instead_of_duplicating() -> None:
    sink = MetricSink()
    sink.add("m", 1, {"a": "x"}, "h")
    sink.add("m", 2, {"a": "x"}, "h")
    assert sink.render().count("m{") == 1
    assert 'm{a="x"} 2' in sink.render()


def test_family_with_other_labels_is_refused() -> None:
    sink = MetricSink()
    sink.add("m", 1, {"a": "x"}, "h")
    with pytest.raises(ValueError, match="defined twice"):
        sink.add("m", 1, {"b": "x"}, "h")


def test_render_has_help_and_type_once_per_family() -> None:
    sink = MetricSink()
    sink.add("c_total", 1, {"a": "1"}, "Some help.", "counter")
    sink.add("c_total", 2, {"a": "2"}, "Some help.", "counter")
    text = sink.render()
    assert text.count("# HELP c_total Some help.") == 1
    assert text.count("# TYPE c_total counter") == 1


def test_take_moves_every_sample_and_renders_as_merge_does() -> None:
    def prober_sink() -> MetricSink:
        own = MetricSink()
        own.add("probe_success", 1, {"prober": "snmp"}, "Whether it worked.")
        own.add("if_in_octets", 7, {"ifIndex": "1"}, "Octets in.", "counter")
        own.add("if_in_octets", 9, {"ifIndex": "2"}, "Octets in.", "counter")
        return own

    merged, taken = MetricSink(), MetricSink()
    for sink in (merged, taken):
        sink.add("probe_success", 0, {"prober": "icmp"}, "Whether it worked.")
    merged.merge(prober_sink())
    own = prober_sink()
    taken.take(own)
    assert taken.render() == merged.render()
    assert 'probe_success{prober="snmp"} 1' in taken.render()
    assert list(own) == []
    clash = MetricSink()
    clash.add("if_in_octets", 1, {"ifName": "eth0"}, "Octets in.", "counter")
    with pytest.raises(ValueError, match="defined twice"):
        taken.take(clash)
